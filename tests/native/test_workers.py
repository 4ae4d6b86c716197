"""The account worker pool: order per account, isolation, the cap, retirement, shutdown."""

from __future__ import annotations

import logging
import threading
import types
from collections.abc import Callable

import pytest

from sma_host.native import workers
from sma_host.native.workers import MAX_ACCOUNTS, PoolFull, WorkerPool

WAIT = 10.0  # generous: a loaded 2-core machine


def _known(_account: str) -> bool:
    return True


def _unknown(_account: str) -> bool:
    return False


def _set(event: threading.Event) -> Callable[[], None]:
    return event.set


def _stop(pool: WorkerPool) -> None:
    for thread in pool.stop_all():
        thread.join(WAIT)
        assert not thread.is_alive()


def test_jobs_of_one_account_run_in_order_on_one_named_daemon_thread() -> None:
    pool = WorkerPool(_known)
    ran: list[tuple[int, threading.Thread]] = []
    done = threading.Event()
    for i in range(20):
        pool.submit("a", lambda i=i: ran.append((i, threading.current_thread())))  # type: ignore[misc]
    pool.submit("a", _set(done))
    assert done.wait(WAIT)
    assert [i for i, _ in ran] == list(range(20))
    threads = {thread for _, thread in ran}
    assert len(threads) == 1
    (thread,) = threads
    assert thread.name == "account-a"
    assert thread.daemon
    assert pool.has("a") and not pool.has("b")
    assert pool.count() == 1
    _stop(pool)


def test_a_blocked_account_does_not_hold_up_another() -> None:
    pool = WorkerPool(_known)
    release, b_done = threading.Event(), threading.Event()
    pool.submit("a", lambda: release.wait(WAIT) and None)
    pool.submit("b", _set(b_done))
    assert b_done.wait(WAIT)
    assert pool.count() == 2
    release.set()
    _stop(pool)


def test_a_failing_job_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(_known)
    done = threading.Event()

    def boom() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="sma_host.native.workers"):
        pool.submit("a", boom)
        pool.submit("a", _set(done))
        assert done.wait(WAIT)
    (record,) = [r for r in caplog.records if r.name == "sma_host.native.workers"]
    assert record.getMessage() == "background work failed"
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    _stop(pool)


def test_the_default_cap_is_64_accounts() -> None:
    assert MAX_ACCOUNTS == 64
    pool = WorkerPool(_known)
    release = threading.Event()
    for n in range(MAX_ACCOUNTS):
        pool.submit(f"acct{n}", lambda: release.wait(WAIT) and None)
    assert pool.count() == MAX_ACCOUNTS
    with pytest.raises(PoolFull, match="^at most 64 accounts are served at once$"):
        pool.submit("one-too-many", release.set)
    assert not pool.has("one-too-many")
    assert pool.count() == MAX_ACCOUNTS
    release.set()
    _stop(pool)


def test_at_the_cap_a_served_account_still_gets_jobs_and_a_new_one_is_refused() -> None:
    pool = WorkerPool(_known, limit=2)
    done = threading.Event()
    pool.submit("a", lambda: None)
    pool.submit("b", lambda: None)
    pool.submit("a", _set(done))  # already served: not a new worker
    assert done.wait(WAIT)
    with pytest.raises(PoolFull, match="^at most 2 accounts are served at once$"):
        pool.submit("c", lambda: None)
    assert pool.count() == 2
    _stop(pool)


def test_a_refused_thread_is_pool_full_and_leaves_no_worker(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = WorkerPool(_known)

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    # Only this module's view of threading: other threads of the test process are untouched.
    monkeypatch.setattr(workers, "threading", types.SimpleNamespace(Thread=NoThread))
    with caplog.at_level(logging.ERROR, logger="sma_host.native.workers"):
        with pytest.raises(PoolFull, match="^the system refused a new thread$") as raised:
            pool.submit("a", lambda: None)
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert not pool.has("a")
    assert pool.count() == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "sma_host.native.workers"]
    assert messages == ["cannot start a worker thread: can't start new thread"]


def _thread_of(pool: WorkerPool, account: str) -> threading.Thread:
    seen: list[threading.Thread] = []
    done = threading.Event()

    def record() -> None:
        seen.append(threading.current_thread())
        done.set()

    pool.submit(account, record)
    assert done.wait(WAIT)
    return seen[0]


def test_a_worker_of_an_unknown_account_ends_after_its_queue() -> None:
    pool = WorkerPool(_unknown)
    thread = _thread_of(pool, "never-configured")
    thread.join(WAIT)
    assert not thread.is_alive()
    assert not pool.has("never-configured")
    assert pool.count() == 0
    # The name can come back: a fresh worker.
    again = _thread_of(pool, "never-configured")
    assert again is not thread
    again.join(WAIT)
    assert not again.is_alive()


def test_an_unknown_account_runs_every_queued_job_before_ending() -> None:
    pool = WorkerPool(_unknown)
    release, second = threading.Event(), threading.Event()
    ran: list[threading.Thread] = []
    pool.submit("a", lambda: release.wait(WAIT) and None)
    pool.submit("a", lambda: (ran.append(threading.current_thread()), second.set()) and None)
    release.set()
    assert second.wait(WAIT)
    ran[0].join(WAIT)
    assert not ran[0].is_alive()
    assert not pool.has("a")


def test_a_known_account_keeps_its_worker_between_jobs() -> None:
    pool = WorkerPool(_known)
    first = _thread_of(pool, "a")
    assert _thread_of(pool, "a") is first
    assert first.is_alive()
    assert pool.has("a")
    _stop(pool)


def test_a_failing_known_check_counts_as_unknown(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_account: str) -> bool:
        raise OSError("read-only data dir")

    pool = WorkerPool(broken)
    with caplog.at_level(logging.WARNING, logger="sma_host.native.workers"):
        thread = _thread_of(pool, "a")
        thread.join(WAIT)
    assert not thread.is_alive()
    assert not pool.has("a")
    messages = [r.getMessage() for r in caplog.records if r.name == "sma_host.native.workers"]
    assert messages == ["account 'a' unknown for now: read-only data dir"]


def test_retire_keeps_a_worker_that_is_not_the_registered_one() -> None:
    pool = WorkerPool(_unknown)
    stale = workers._Worker(pool, "a")  # never registered: a retired worker's twin
    assert pool.retire_if_unknown(stale) is False
    thread = _thread_of(pool, "a")
    thread.join(WAIT)
    assert pool.count() == 0


def test_stop_all_ends_every_worker_after_its_queue() -> None:
    pool = WorkerPool(_known)
    release = threading.Event()
    ran: list[str] = []
    pool.submit("a", lambda: release.wait(WAIT) and None)
    pool.submit("a", lambda: ran.append("a"))
    pool.submit("b", lambda: ran.append("b"))
    threads = pool.stop_all()
    assert sorted(t.name for t in threads) == ["account-a", "account-b"]
    release.set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert sorted(ran) == ["a", "b"]


def test_stop_all_of_an_empty_pool() -> None:
    assert WorkerPool(_known).stop_all() == []
