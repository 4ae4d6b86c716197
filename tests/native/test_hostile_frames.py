"""Issue 12 items 6 and 7: one frame cannot stall ``hello``; threads only for configured
accounts. Through the real ``sma-host`` process."""

from __future__ import annotations

import json
import time
from pathlib import Path

from devtools.host_process import HostProcess
from tests.native.test_stdio_contract import (
    WAIT_S,
    SpawnHost,
    Tarpit,
    assert_clean_exit,
    assert_error,
    encode,
    send_request,
    tarpit,  # noqa: F401 (fixture)
)

#: The issue's target is 100 ms; this bound is generous for a loaded CI machine (the
#: measured latency is printed: ``pytest -s``).
HELLO_WITHIN_S = 1.0


def _threads(host: HostProcess) -> int:
    return len(list(Path(f"/proc/{host.process.pid}/task").iterdir()))


def test_huge_invalid_keys_put_does_not_delay_hello(spawn_host: SpawnHost) -> None:
    host = spawn_host()
    assert host.call("hello", timeout=WAIT_S)["protocol"] == 1
    # 600,000 invalid items, about 1.2 MB: the frame of the review.
    big = encode(
        {
            "jsonrpc": "2.0",
            "id": "big",
            "method": "keys.put",
            "params": {"account": "acct1", "peers": [1] * 600_000},
        }
    )
    hello = encode({"jsonrpc": "2.0", "id": "hi", "method": "hello"})
    for _ in range(3):
        host.send_raw(big)
    started = time.monotonic()
    host.send_raw(hello)
    assert host.wait_response("hi", WAIT_S)["result"]["protocol"] == 1
    latency = time.monotonic() - started
    print(f"hello answered {latency * 1000:.1f} ms after three 1.2 MB invalid keys.put frames")
    assert latency < HELLO_WITHIN_S
    reply = host.wait_response("big", WAIT_S)
    assert_error(reply, -32602, "invalid_params", "big")
    assert reply["error"]["data"]["path"] == "$.peers"  # too many items: refused by size
    assert_clean_exit(host, host.close())


def test_unknown_accounts_get_no_thread(spawn_host: SpawnHost) -> None:
    host = spawn_host()
    assert host.call("hello", timeout=WAIT_S)["protocol"] == 1
    before = _threads(host)
    for n in range(2000):
        send_request(host, n, "sma.status", {"account": f"ghost{n}"})
    for n in range(2000):
        assert_error(host.wait_response(n, WAIT_S), -32001, "unknown_account", n)
    assert _threads(host) <= before + 2  # the intake thread, at most one more
    assert_clean_exit(host, host.close())


def test_account_cap_refuses_more_configures(spawn_host: SpawnHost, tarpit: Tarpit) -> None:  # noqa: F811
    """Configures that hang hold a worker each; past the cap the answer is immediate."""
    from sma_host.native.workers import MAX_ACCOUNTS

    host = spawn_host()
    params = {
        "email": "user@example.org",
        "device_name": "Laptop",
        "imap": {
            "host": "127.0.0.1",
            "port": tarpit.port,
            "security": "tls",
            "username": "u",
            "password": "pw",
        },
    }
    for n in range(MAX_ACCOUNTS + 10):
        send_request(host, n, "account.configure", {**params, "account": f"acct{n}"})
    for n in range(MAX_ACCOUNTS, MAX_ACCOUNTS + 10):
        reply = host.wait_response(n, WAIT_S)
        assert_error(reply, -32602, "invalid_params", n)
        assert reply["error"]["data"]["max_accounts"] == MAX_ACCOUNTS
    assert _threads(host) <= MAX_ACCOUNTS + 8
    assert json.loads(json.dumps(host.call("hello", timeout=WAIT_S)))["protocol"] == 1
    host.close_stdin()
    host.process.wait(WAIT_S)
