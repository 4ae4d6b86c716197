"""The connection budget (docs/protocol.md §11): at rest a device holds only its watcher's
IMAP connection; the command connection closes once unused for ``SMA_HOST_COMMAND_IDLE_S``
and a call opens it again. Counted by the server itself (``doveadm who``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from devtools.dovecot import DovecotServer
from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy
from tests.conftest import Account
from tests.contract.test_keys import entry
from tests.contract.test_server_matrix import ACCOUNT, call

Spawn = Callable[..., HostProcess]
#: The idle close of these hosts (the default is 30 s).
IDLE_S = "1"
#: Generous: the close is due after 1 s, but the machine is shared.
SETTLE_S = 30.0
#: Seconds between two bytes from the server on the slow link (500 bytes/s).
SLOW_LINK_S = 0.002


def settled_sessions(server: DovecotServer, user: str, count: int) -> list[int]:
    """The user's IMAP sessions once there are ``count`` of them (or at the deadline)."""
    deadline = time.monotonic() + SETTLE_S
    while len(held := server.sessions(user)) != count and time.monotonic() < deadline:
        time.sleep(0.1)
    return held


def idling_watcher(server: DovecotServer, user: str) -> int:
    """The session of the host's watcher: the one in IDLE (the command connection never
    idles), once it is there."""
    deadline = time.monotonic() + SETTLE_S
    while not (idling := server.idling_sessions(user)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(idling) == 1, f"not one watcher in IDLE: {idling}"
    return idling[0]


def test_at_rest_only_the_watcher_stays_and_a_call_reopens(
    spawn_host: Spawn, dovecot: DovecotServer, account: Account
) -> None:
    host = spawn_host("budget", env={"SMA_HOST_COMMAND_IDLE_S": IDLE_S})
    host.call("account.configure", account.configure_params(ACCOUNT))
    call(host, "sma.join")
    user = account.user.name
    watcher = idling_watcher(dovecot, user)
    assert settled_sessions(dovecot, user, 1) == [watcher]

    # Calls after the close open a new command connection, and it closes again.
    assert call(host, "sma.status")["exists"]
    addr = "carol@example.org"
    assert call(host, "keys.put", peers=[entry(addr, int(time.time()), addr)])["stored"] == 1
    assert call(host, "sma.sync")["dropped"] == 0
    assert settled_sessions(dovecot, user, 1) == [watcher]  # the watcher was never closed
    assert [p["addr"] for p in call(host, "keys.list", addr=addr)["peers"]] == [addr]


def test_without_push_nothing_stays_open(
    spawn_host: Spawn, dovecot: DovecotServer, account: Account
) -> None:
    env = {"SMA_HOST_COMMAND_IDLE_S": IDLE_S, "SMA_HOST_PUSH": "off"}
    host = spawn_host("budget-no-push", env=env)
    host.call("account.configure", account.configure_params(ACCOUNT))
    call(host, "sma.join")
    user = account.user.name
    assert settled_sessions(dovecot, user, 0) == []
    assert call(host, "sma.sync")["dropped"] == 0
    assert settled_sessions(dovecot, user, 0) == []


def test_a_call_slower_than_the_idle_close_is_not_cut(
    spawn_host: Spawn, dovecot: DovecotServer, account: Account
) -> None:
    """The close runs on the account's worker, behind the call: a command whose answer
    takes longer than the idle close (a slow link) still completes."""
    with ImapProxy(dovecot.host, dovecot.port) as proxy:
        env = {"SMA_HOST_COMMAND_IDLE_S": IDLE_S, "SMA_HOST_PUSH": "off"}
        host = spawn_host("budget-slow", env=env)
        params = account.configure_params(
            ACCOUNT, host=proxy.host, port=proxy.port, security="none"
        )
        host.call("account.configure", params)
        call(host, "sma.join")
        user = account.user.name
        assert settled_sessions(dovecot, user, 0) == []
        proxy.slow_s = SLOW_LINK_S  # the announcement's FETCH alone now takes seconds
        assert call(host, "sma.status")["exists"]  # closed under it, it would fail
        proxy.slow_s = 0.0
        assert settled_sessions(dovecot, user, 0) == []
