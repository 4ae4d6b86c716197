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


def make() -> tuple[Push, FakeStore, list[int]]:
    clock = [1000]
    store = FakeStore()
    push = Push(store, None, None, None, lambda: clock[0], lambda _a: None)  # type: ignore[arg-type]
    return push, store, clock


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


def test_fast_only_with_the_page_open_and_for_two_minutes_per_pairing(monkeypatch: Any) -> None:
    push, store, clock = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    store.attempts = [waiting(clock[0])]
    push.update_live("a")
    push.ui_active({"account": "a"})
    assert push.poll_every("a", idle=True) == FAST_POLL_S
    assert 1 / FAST_POLL_S <= 20
    clock[0] += 119
    assert push.poll_every("a", idle=False) == FAST_POLL_S
    clock[0] += 1  # two minutes into the pairing: no longer fast
    mono[0] += 30
    assert push.poll_every("a", idle=False) == WAITING_POLL_S
    assert push.poll_every("a", idle=True) is None


def test_ui_active_counts_for_one_minute(monkeypatch: Any) -> None:
    push, _, _ = make()
    mono = [50.0]
    monkeypatch.setattr(push_module.time, "monotonic", lambda: mono[0])
    push.ui_active({"account": "a"})
    assert push.poll_every("a", idle=False) == UI_POLL_S
    assert push.poll_every("a", idle=True) is None
    mono[0] += 59
    assert push.poll_every("a", idle=False) == UI_POLL_S
    mono[0] += 2
    assert push.poll_every("a", idle=False) is None
