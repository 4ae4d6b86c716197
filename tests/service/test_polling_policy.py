"""The watcher's polling policy (service/push.py), with a fake clock and pairings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sma_host.protocol.pairing_states import Direction, Phase
from sma_host.service import push as push_module
from sma_host.service.push import FAST_POLL_S, UI_POLL_S, WAITING_POLL_S, Push


class FakeStore:
    def __init__(self) -> None:
        self.attempts: list[Any] = []

    def pairings(self, _account: str) -> list[Any]:
        return self.attempts


class FakeWatcher:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


class FakeSessions:
    """Account "a" has a watcher; any other account has no session here."""

    def __init__(self) -> None:
        self.watcher = FakeWatcher()

    def find(self, account: str) -> Any:
        return SimpleNamespace(watcher=self.watcher) if account == "a" else None


def make() -> tuple[Push, FakeStore, list[int]]:
    push, store, clock, _ = make_with_watcher()
    return push, store, clock


def make_with_watcher() -> tuple[Push, FakeStore, list[int], FakeWatcher]:
    clock = [1000]
    store = FakeStore()
    sessions = FakeSessions()
    push = Push(store, sessions, None, None, lambda: clock[0], lambda _a: None)  # type: ignore[arg-type]
    return push, store, clock, sessions.watcher


def waiting(created: int, ttl: int = 600) -> Any:
    return SimpleNamespace(
        direction=Direction.OUTGOING, phase=Phase.WAITING, created=created, expires_at=created + ttl
    )


def test_nothing_expected_means_idle_or_slow_polling() -> None:
    push, _, _ = make()
    assert push.poll_every("a", idle=True) is None
    assert push.poll_every("a", idle=False) is None


def test_a_waiting_device_without_its_page_polls_at_most_twice_a_second() -> None:
    push, store, clock = make()
    store.attempts = [waiting(clock[0])]
    push.update_live("a")
    assert push.poll_every("a", idle=False) == WAITING_POLL_S
    assert push.poll_every("a", idle=True) is None  # push brings the reply
    assert 1 / WAITING_POLL_S <= 2


def keep_open(push: Push, mono: list[float], seconds: float) -> None:
    """The add-on's page stays open ``seconds`` more: ``ui.active`` every 30 s."""
    end = mono[0] + seconds
    while mono[0] + 30 <= end:
        mono[0] += 30
        push.ui_active({"account": "a"})
    mono[0] = end


def test_fast_only_with_the_page_open_and_for_two_minutes_per_pairing(monkeypatch: Any) -> None:
    push, store, clock = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    push.ui_active({"account": "a"})
    keep_open(push, mono, 300)  # the page's own window is over
    store.attempts = [waiting(clock[0])]
    push.update_live("a")
    assert push.poll_every("a", idle=True) == FAST_POLL_S
    assert 1 / FAST_POLL_S <= 20
    clock[0] += 119
    keep_open(push, mono, 119)
    assert push.poll_every("a", idle=False) == FAST_POLL_S
    clock[0] += 1  # two minutes into the pairing: no longer fast
    keep_open(push, mono, 1)
    assert push.poll_every("a", idle=False) == WAITING_POLL_S
    assert push.poll_every("a", idle=True) is None


def test_an_opened_page_polls_fast_for_two_minutes(monkeypatch: Any) -> None:
    """The user may be about to type a code: a request is seen within tens of ms, not
    after the server's IDLE delay; bounded to 2 minutes per opening of the page."""
    push, _, _ = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    push.ui_active({"account": "a"})
    assert push.poll_every("a", idle=True) == FAST_POLL_S
    keep_open(push, mono, 119)
    assert push.poll_every("a", idle=True) == FAST_POLL_S
    keep_open(push, mono, 1)  # still open, but its two minutes are over
    assert push.poll_every("a", idle=True) is None
    assert push.poll_every("a", idle=False) == UI_POLL_S
    keep_open(push, mono, 600)
    assert push.poll_every("a", idle=True) is None
    mono[0] += 61  # closed; opened again later: a new window
    push.ui_active({"account": "a"})
    assert push.poll_every("a", idle=True) == FAST_POLL_S


def test_ui_active_counts_for_one_minute(monkeypatch: Any) -> None:
    push, _, _ = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    push.ui_active({"account": "a"})
    keep_open(push, mono, 150)  # past the opening's fast window
    assert push.poll_every("a", idle=False) == UI_POLL_S
    assert push.poll_every("a", idle=True) is None
    mono[0] += 59  # 59 s after the last ui.active
    assert push.poll_every("a", idle=False) == UI_POLL_S
    mono[0] += 2
    assert push.poll_every("a", idle=False) is None


def test_the_page_window_ends_with_its_pairing(monkeypatch: Any) -> None:
    push, store, clock = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    push.ui_active({"account": "a"})
    store.attempts = [waiting(clock[0])]
    push.update_live("a")
    assert push.poll_every("a", idle=True) == FAST_POLL_S
    store.attempts = []  # completed
    push.update_live("a")
    assert push.poll_every("a", idle=True) is None
    assert push.poll_every("a", idle=False) == UI_POLL_S


def test_the_watcher_is_woken_when_the_page_opens_or_a_pairing_starts() -> None:
    """Its current wait (half a second in IDLE) is not paid by a request already there."""
    push, store, clock, watcher = make_with_watcher()
    push.ui_active({"account": "a"})
    assert watcher.wakes == 1
    push.ui_active({"account": "a"})  # the add-on's repeat while the page stays open
    assert watcher.wakes == 1
    push.ui_active({"account": "b"})  # no session: nothing to wake, no error
    store.attempts = [waiting(created=clock[0])]
    push.update_live("a")
    assert watcher.wakes == 2
    push.update_live("a")  # the same pairing again: no change of policy
    assert watcher.wakes == 2
