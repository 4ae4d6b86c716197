"""Account workers: one thread per configured account, and a cap on how many exist.

A worker exists only for an account the backend knows, or for the ``account.configure``
that may create it; a worker whose account is still unknown once its queue is empty (a
configure that failed) ends, so names the add-on never configured hold no thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ..logsetup import LazyLogger

log = LazyLogger(__name__)

#: The most accounts one host serves at once (documented in docs/protocol.md §4).
MAX_ACCOUNTS = 64

Job = Callable[[], None]


class PoolFull(Exception):
    """No worker: the account cap is reached, or the system refused a thread."""


class _Worker:
    """Runs one account's calls in arrival order on its own thread."""

    def __init__(self, pool: WorkerPool, name: str) -> None:
        self.name = name
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name=f"account-{name}", daemon=True)
        self._pool = pool

    def _loop(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                job()
            except Exception:  # a scheduled background job must not kill the worker
                log.exception("background work failed")
            if self._pool.retire_if_unknown(self):
                return


class WorkerPool:
    """The account workers; ``known(account)`` says whether the backend has it configured."""

    def __init__(self, known: Callable[[str], bool], limit: int = MAX_ACCOUNTS) -> None:
        self._known = known
        self._limit = limit
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()

    def submit(self, account: str, job: Job) -> None:
        """Queue ``job`` on the account's worker, starting one if needed (``PoolFull``)."""
        with self._lock:
            worker = self._workers.get(account)
            if worker is None:
                if len(self._workers) >= self._limit:
                    raise PoolFull(f"at most {self._limit} accounts are served at once")
                worker = _Worker(self, account)
                try:
                    worker.thread.start()
                except RuntimeError as exc:  # out of threads or memory: refuse, do not crash
                    log.error("cannot start a worker thread: %s", exc)
                    raise PoolFull("the system refused a new thread") from exc
                self._workers[account] = worker
            worker.jobs.put(job)

    def has(self, account: str) -> bool:
        with self._lock:
            return account in self._workers

    def retire_if_unknown(self, worker: _Worker) -> bool:
        """After a job: end the worker when its queue is empty and its account unknown."""
        try:
            known = self._known(worker.name)
        except Exception as exc:  # no backend (say, a read-only data dir): it serves nothing
            log.warning("account %r unknown for now: %s", worker.name, exc)
            known = False
        if known:
            return False
        with self._lock:
            # Submissions hold the lock: an empty queue here stays empty for this worker.
            if not worker.jobs.empty() or self._workers.get(worker.name) is not worker:
                return False
            del self._workers[worker.name]
            return True

    def count(self) -> int:
        with self._lock:
            return len(self._workers)

    def stop_all(self) -> list[threading.Thread]:
        """Ask every worker to end after its queue; their threads, to join."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.jobs.put(None)
        return [worker.thread for worker in workers]
