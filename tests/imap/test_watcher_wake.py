"""An idling watcher acts on a changed polling policy at once (``InboxWatcher.wake``), not
at the end of its current wait: the add-on's page opening must not cost a pairing request
up to half a second. The waits are made 30 s long here, so "at once" is unambiguous."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from devtools.imap_proxy import ImapProxy
from sma_host.imap import watcher as watcher_module
from sma_host.imap.mailbox import ImapSettings, Mailbox
from sma_host.imap.watcher import InboxWatcher
from tests.conftest import Account

LONG_WAIT_S = 30.0
#: Well under LONG_WAIT_S: an answer within this bound came from the wake-up.
WITHIN_S = 10.0


def plain_settings(account: Account, port: int | None = None) -> ImapSettings:
    server = account.server
    return ImapSettings(
        server.host, port or server.port, "none", account.user.name, account.user.password
    )


def test_idle_wait_returns_when_woken_and_the_connection_stays_usable(account: Account) -> None:
    mailbox = Mailbox.connect(plain_settings(account))
    wake_read, wake_write = socket.socketpair()
    try:
        mailbox.select("INBOX", readonly=True)
        mailbox.idle_start()
        # Woken five times: an early empty answer must not read as a dead connection
        # (three in a row would, without the wake-up).
        for _ in range(5):
            wake_write.send(b"\0")
            started = time.monotonic()
            assert mailbox.idle_wait(LONG_WAIT_S, wake_read) == []
            assert time.monotonic() - started < WITHIN_S
            assert wake_read.recv(64) == b"\0"
        mailbox.idle_stop()
        assert mailbox.folder_exists("INBOX")
    finally:
        wake_read.close()
        wake_write.close()
        mailbox.close()


def test_a_watcher_in_idle_switches_to_polling_when_woken(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_module, "IDLE_TICK_S", LONG_WAIT_S)
    waiting = threading.Event()  # set each time the watcher enters its 30 s wait
    idle_wait = Mailbox.idle_wait

    def entering(mailbox: Mailbox, timeout: float, wake: socket.socket | None = None) -> Any:
        waiting.set()
        return idle_wait(mailbox, timeout, wake)

    monkeypatch.setattr(Mailbox, "idle_wait", entering)
    setup = Mailbox.connect(plain_settings(account))
    setup.create_folder(setup.namespace.inbox_folder("00000000000000aa"))
    setup.close()
    interval: list[float | None] = [None]
    with ImapProxy(account.server.host, account.server.port) as proxy:
        watcher = InboxWatcher(
            plain_settings(account, proxy.port),
            "00000000000000aa",
            on_messages=lambda: None,
            on_gone=lambda: None,
            poll_every=lambda idle: interval[0],
            poll_interval=60.0,
            name="wake",
        )
        watcher.start()
        try:
            assert waiting.wait(WITHIN_S)
            proxy.reset()
            interval[0] = 0.05  # the page opened
            watcher.wake()
            assert proxy.wait_for(lambda commands: "NOOP" in commands, WITHIN_S)
            waiting.clear()
            interval[0] = None  # closed again: back to IDLE
            assert waiting.wait(WITHIN_S)
            # Woken in IDLE with nothing changed: it looks, and waits again without a
            # command (leaving IDLE would send DONE and more before waiting again).
            proxy.reset()
            waiting.clear()
            watcher.wake()
            assert waiting.wait(WITHIN_S)
            assert proxy.commands() == []
        finally:
            watcher.stop()
            assert watcher.join(WITHIN_S)
