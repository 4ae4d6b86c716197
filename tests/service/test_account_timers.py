"""Per-account timers (service/retry.py): one pending per account, its job handed to the
account's worker when it fires, nothing after close."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sma_host.service.retry import AccountTimers, Backoff

WAIT_S = 10.0  # generous: the timers below are due after 0.01 s


class Worker:
    """Stands in for the worker pool: records what was scheduled, for which account."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.done = threading.Event()

    def schedule(self, account: str, job: Callable[[], None]) -> None:
        job()
        self.ran.append(account)
        self.done.set()


def test_one_pending_timer_per_account_and_its_job_goes_to_the_worker() -> None:
    worker = Worker()
    timers = AccountTimers(worker.schedule, "test")
    fired: list[str] = []
    assert timers.arm("a", 0.01, lambda: fired.append("first"))
    assert not timers.arm("a", 0.01, lambda: fired.append("second"))  # one is pending
    assert worker.done.wait(WAIT_S)
    assert fired == ["first"] and worker.ran == ["a"]
    worker.done.clear()
    assert timers.arm("a", 0.01, lambda: fired.append("third"))  # fired: may arm again
    assert worker.done.wait(WAIT_S)
    assert fired == ["first", "third"]
    timers.close()


def test_nothing_is_armed_without_a_worker_or_after_close() -> None:
    assert not AccountTimers(None, "test").arm("a", 0.01, lambda: None)
    worker = Worker()
    timers = AccountTimers(worker.schedule, "test")
    assert timers.arm("a", 60.0, lambda: None)
    timers.close()  # cancels the pending one
    assert not timers.arm("b", 0.01, lambda: None)
    assert worker.ran == []


def test_backoff_arms_one_retry_at_a_time_and_starts_over_after_success() -> None:
    backoff = Backoff(lambda _account, _job: None, first_s=30.0, max_s=100.0)
    assert backoff.arm("a", lambda: None) == 30.0
    assert backoff.arm("a", lambda: None) is None  # still pending
    backoff.succeeded("a")  # cancels it
    assert backoff.arm("a", lambda: None) == 30.0
    backoff.succeeded("a")
    backoff.close()
    assert backoff.arm("a", lambda: None) is None
