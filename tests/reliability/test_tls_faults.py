"""TLS faults (issue 15): a handshake answered with garbage, cut midway or left silent
gives a clear ``connection_failed``/``tls_failed`` soon, never a hang, and the host works
again once the path is healthy; a STARTTLS capability stripped by someone in the middle
is refused, and nothing is ever sent in the clear after the greeting."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy
from devtools.tls_fault import TlsFaultRelay
from tests.contract.test_keys import ACCOUNT
from tests.reliability.helpers import wait_until

#: No hang: a handshake that never completes fails within the connect timeout (5 s) and
#: the host's retries; generous for a loaded machine.
FAILS_WITHIN_S = 40
HELLO_WITHIN_S = 5


@pytest.fixture
def relay(dovecot) -> Iterator[TlsFaultRelay]:  # type: ignore[no-untyped-def]
    with TlsFaultRelay(dovecot.host, dovecot.tls_port) as running:
        yield running


@pytest.mark.parametrize("mode", ["garbage", "close_mid", "stall"])
def test_a_broken_handshake_is_a_clear_error_then_recovers(
    spawn_host, account, relay, mode
) -> None:  # type: ignore[no-untyped-def]
    host: HostProcess = spawn_host(env={"SMA_HOST_PUSH": "off"})
    params = account.configure_params(ACCOUNT, device_name="a", port=relay.port)
    host.call("account.configure", params)
    host.call("sma.join", {"account": ACCOUNT})
    relay.mode = mode
    relay.drop_all()  # the next call needs a new connection: its handshake meets the fault
    started = time.monotonic()
    host.send({"jsonrpc": "2.0", "id": "s", "method": "sma.status", "params": {"account": ACCOUNT}})
    hello_at = time.monotonic()
    assert host.call("hello", timeout=HELLO_WITHIN_S)["protocol"] == 1
    assert time.monotonic() - hello_at < HELLO_WITHIN_S
    reply = host.wait_response("s", FAILS_WITHIN_S + 5)
    assert time.monotonic() - started < FAILS_WITHIN_S
    assert "error" in reply, reply
    assert reply["error"]["data"]["reason"] in ("connection_failed", "tls_failed"), reply
    assert account.user.password not in str(reply) + host.stderr_text()
    assert "Traceback" not in host.stderr_text()
    # Configuring through the broken path fails the same way (a fresh connection).
    again = host.request("account.configure", params, timeout=FAILS_WITHIN_S + 5)
    assert again["error"]["data"]["reason"] in ("connection_failed", "tls_failed"), again

    relay.mode = "pass"
    host.call("account.configure", params, timeout=FAILS_WITHIN_S)
    wait_until(
        lambda: "result" in host.request("sma.status", {"account": ACCOUNT}, timeout=60),
        60,
        "sma.status through the healed path",
        step=0.5,
    )


def starttls_params(account, proxy: ImapProxy) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return account.configure_params(
        ACCOUNT, device_name="a", host=proxy.host, port=proxy.port, security="starttls"
    )


def test_a_stripped_starttls_is_refused_never_downgraded(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    host: HostProcess = spawn_host(env={"SMA_HOST_PUSH": "off"})
    proxy.strip_starttls = True
    reply = host.request("account.configure", starttls_params(account, proxy))
    assert reply["error"]["data"]["reason"] == "tls_failed", reply
    assert "STARTTLS" in reply["error"]["message"]
    assert not {"LOGIN", "AUTHENTICATE"} & set(proxy.commands()), proxy.commands()
    assert account.user.password not in host.stderr_text()


def test_a_starttls_stripped_later_fails_the_reconnect_in_the_clear_never(
    spawn_host, account, proxy
) -> None:  # type: ignore[no-untyped-def]
    """Configured while STARTTLS was offered; then the path starts stripping it: every
    new connection is refused before it logs in, and it heals when the path does."""
    host: HostProcess = spawn_host(env={"SMA_HOST_PUSH": "off"})
    params = starttls_params(account, proxy)
    host.call("account.configure", params)
    host.call("sma.join", {"account": ACCOUNT})
    proxy.strip_starttls = True
    proxy.cut_all()
    proxy.reset()
    reasons: list[str] = []  # the cut connection's own call may fail as connection_failed

    def refused() -> bool:
        reply = host.request("sma.status", {"account": ACCOUNT}, timeout=FAILS_WITHIN_S + 5)
        reasons.append(reply["error"]["data"]["reason"])  # never a result: KeyError
        return reasons[-1] == "tls_failed"

    wait_until(refused, FAILS_WITHIN_S, "tls_failed on a new connection", step=0.2)
    assert set(reasons) <= {"connection_failed", "tls_failed"}, reasons
    assert "STARTTLS" not in proxy.commands()
    assert not {"LOGIN", "AUTHENTICATE"} & set(proxy.commands()), proxy.commands()
    proxy.strip_starttls = False
    wait_until(
        lambda: "result" in host.request("sma.status", {"account": ACCOUNT}, timeout=60),
        60,
        "sma.status once STARTTLS is offered again",
        step=0.5,
    )
