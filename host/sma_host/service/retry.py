"""Timers per account: at most one waits per account, and when it fires its job runs on
the account's worker (behind the calls already queued), never on the timer's thread.
``Backoff`` retries on a doubling delay; ``Sessions`` closes idle command connections."""

from __future__ import annotations

import threading
from collections.abc import Callable

Schedule = Callable[[str, Callable[[], None]], None]

#: The first retry comes this soon; each further one waits twice as long, up to the cap.
RETRY_FIRST_S = 1.0
#: The longest wait between two retries (documented in docs/protocol.md §15.2).
RETRY_MAX_S = 60.0


class AccountTimers:
    """At most one pending timer per account; its job is scheduled on the account's
    worker when it fires. Without ``schedule`` (no worker) nothing is ever armed."""

    def __init__(self, schedule: Schedule | None, name: str) -> None:
        self._schedule = schedule
        self._name = name
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._closed = False

    def arm(self, account: str, delay: float, job: Callable[[], None]) -> bool:
        """Run ``job`` on the account's worker after ``delay`` seconds, unless a timer of
        this account is already pending; True when this one was armed."""
        schedule = self._schedule
        if schedule is None:
            return False
        with self._lock:
            if self._closed or account in self._timers:
                return False

            def fire() -> None:
                with self._lock:
                    self._timers.pop(account, None)
                    if self._closed:
                        return
                schedule(account, job)

            timer = self._timers[account] = threading.Timer(delay, fire)
            timer.name = f"{self._name}-{account}"
            timer.daemon = True
            timer.start()
            return True

    def cancel(self, account: str) -> None:
        with self._lock:
            timer = self._timers.pop(account, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()


class Backoff:
    """One pending retry per account; the delay doubles from ``first_s`` to ``max_s`` with
    each retry armed, and goes back to ``first_s`` on ``succeeded``."""

    def __init__(
        self,
        schedule: Schedule | None,
        first_s: float = RETRY_FIRST_S,
        max_s: float = RETRY_MAX_S,
    ) -> None:
        self._timers = AccountTimers(schedule, "retry")
        self._first_s = first_s
        self._max_s = max_s
        self._lock = threading.Lock()
        self._delays: dict[str, float] = {}

    def arm(self, account: str, job: Callable[[], None]) -> float | None:
        """Run ``job`` on the account's worker after the next delay, unless a retry is
        already pending; returns the delay (None when nothing was armed)."""
        with self._lock:
            delay = self._delays.get(account, self._first_s)
            if not self._timers.arm(account, delay, job):
                return None
            self._delays[account] = min(delay * 2, self._max_s)
            return delay

    def succeeded(self, account: str) -> None:
        """Nothing is left to retry: a pending retry is dropped, and the next failure
        starts again at ``first_s``."""
        with self._lock:
            self._delays.pop(account, None)
        self._timers.cancel(account)

    def close(self) -> None:
        self._timers.close()
