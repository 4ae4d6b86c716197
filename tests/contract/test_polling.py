"""The polling policy on a server without IDLE (Dovecot stripped to ``IMAP4rev1``),
measured by counting every IMAP command a device sends (docs/protocol.md §11)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from devtools.dovecot import DovecotServer, ImapUser
from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy
from devtools.servers import MATRIX
from tests.conftest import Account
from tests.contract.test_server_matrix import ACCOUNT, call, page_open

Spawn = Callable[..., HostProcess]
POLL_S = 10  # SMA_HOST_POLL_S for these devices: the slowest the policy may go


@pytest.fixture(scope="module")
def no_idle() -> Iterator[DovecotServer]:
    server = MATRIX["dovecot-imap4rev1"].make([ImapUser("alice", "alice-pw")])
    assert isinstance(server, DovecotServer)
    with server:
        yield server


def proxied_device(
    spawn: Spawn, account: Account, proxy: ImapProxy, name: str
) -> tuple[HostProcess, str]:
    host = spawn(name, env={"SMA_HOST_POLL_S": str(POLL_S)})
    params = account.configure_params(
        ACCOUNT, device_name=name, host=proxy.host, port=proxy.port, security="none"
    )
    host.call("account.configure", params)
    return host, call(host, "sma.join")["muaa_id"]


def rate(proxy: ImapProxy, seconds: float) -> float:
    """Commands per second this device sends over the next ``seconds``."""
    proxy.reset()
    time.sleep(seconds)
    return len(proxy.commands()) / seconds


def test_polling_stays_within_its_bounds_and_a_pairing_is_quick(
    spawn_host: Spawn, no_idle: DovecotServer
) -> None:
    account = Account(no_idle)
    with (
        ImapProxy(no_idle.host, no_idle.port) as at_a,
        ImapProxy(no_idle.host, no_idle.port) as at_b,
    ):
        a, a_id = proxied_device(spawn_host, account, at_a, "a")
        b, _ = proxied_device(spawn_host, account, at_b, "b")

        # Nothing expected, no page open: one sync every POLL_S at most.
        assert rate(at_a, 4) * POLL_S <= 8  # a sync is a handful of commands

        # B waits on A without its page open: at most 2 commands a second, and polling.
        request = call(b, "pair.request", to=a_id)
        waiting = rate(at_b, 5)
        assert 0.5 <= waiting <= 2.0, waiting
        # A learns of the request at its next poll, within POLL_S.
        a.wait_notification("pair.requested", timeout=POLL_S + 5)

        # Both pages open: B polls fast (at most 20 commands a second) while it waits ...
        page_open(a)
        page_open(b)
        time.sleep(0.5)  # the watcher looks at the policy every 0.5 s at most
        fast = rate(at_b, 2)
        assert 8 <= fast <= 20, fast
        # ... and the pairing completes within 10 s of the code being typed.
        typed = time.monotonic()
        call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
        for host in (a, b):
            host.wait_notification("pair.completed", timeout=10)
        assert time.monotonic() - typed < 10

        # Pairing over, page still open: about one poll a second, no fast polling.
        time.sleep(1)
        assert rate(at_b, 3) <= 2.0
