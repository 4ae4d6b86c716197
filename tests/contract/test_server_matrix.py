"""The SMA flows on every server set-up of the matrix (devtools/servers.py): join and
the join race, status, pairing, key updates by push, restart, removal and leave, through
real host processes. Where a server cannot push (no IDLE, or Courier's polling IDLE),
the bounds asserted are those of the documented fallback (docs/protocol.md §11,
docs/servers.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.host_process import HostProcess
from devtools.servers import MATRIX
from sma_host.native.schemas import validate_result
from tests import imap_inspect
from tests.conftest import Account, MatrixServer
from tests.contract.test_keys import entry

ACCOUNT = "acct1"
Spawn = Callable[..., HostProcess]


def call(host: HostProcess, method: str, **params: Any) -> Any:
    result = host.call(method, {"account": ACCOUNT, **params}, timeout=60)
    assert validate_result(method, result) == [], (method, result)
    return result


def page_open(host: HostProcess) -> None:
    """What the add-on sends while its page or popup is open: a notification."""
    host.send({"jsonrpc": "2.0", "method": "ui.active", "params": {"account": ACCOUNT}})


def device(spawn: Spawn, account: Account, name: str) -> tuple[HostProcess, str]:
    host = spawn(name)
    host.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    page_open(host)
    return host, call(host, "sma.join")["muaa_id"]


def put_arrives(sender: HostProcess, receiver: HostProcess, addr: str, within: float) -> None:
    started = time.monotonic()
    call(sender, "keys.put", peers=[entry(addr, int(started), addr)])
    receiver.wait_notification("keys.changed", lambda p: addr in p["addrs"], timeout=within + 5)
    assert time.monotonic() - started < within, "the key update came too late"


def test_join_race_idempotent_join_and_status(spawn_host: Spawn, matrix_account: Account) -> None:
    hosts = [spawn_host(f"device-{i}") for i in range(3)]
    for i, host in enumerate(hosts):
        host.call("account.configure", matrix_account.configure_params(device_name=f"D{i}"))
    for host in hosts:  # all out before any answer: the joins overlap on the server
        host.send(
            {"jsonrpc": "2.0", "id": "j", "method": "sma.join", "params": {"account": ACCOUNT}}
        )
    responses = [host.wait_response("j", timeout=60) for host in hosts]
    assert all("result" in r for r in responses), responses
    results = [r["result"] for r in responses]
    ids = [r["muaa_id"] for r in results]
    assert len(set(ids)) == 3
    assert sorted(r["created_sma"] for r in results) == [False, False, True]
    again = call(hosts[0], "sma.join")
    assert again == {**again, "muaa_id": ids[0], "created_sma": False}
    for i, host in enumerate(hosts):
        status = call(host, "sma.status")
        assert status["self"] == ids[i]
        assert sorted(m["muaa_id"] for m in status["muaas"]) == sorted(ids)


def test_pair_push_restart_remove_leave(
    spawn_host: Spawn, any_server: MatrixServer, matrix_account: Account
) -> None:
    kind = any_server.kind
    a, a_id = device(spawn_host, matrix_account, "a")
    b, b_id = device(spawn_host, matrix_account, "b")

    # Pairing, every hop by push or polling: B shows the code, the user types it on A.
    request = call(b, "pair.request", to=a_id)
    a.wait_notification(
        "pair.requested",
        lambda p: p["pairing_id"] == request["pairing_id"],
        timeout=kind.news_within_s + 5,
    )
    typed = time.monotonic()
    call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    for host in (a, b):
        host.wait_notification(
            "pair.completed", lambda p: p["pairing_id"] == request["pairing_id"], timeout=30
        )
    assert time.monotonic() - typed < 10, "pairing took over 10 s after the code was typed"

    put_arrives(a, b, "first@example.net", kind.news_within_s)

    # Restart: the same data dir keeps the id, and push works again.
    b.close()
    b = spawn_host("b")
    b.call("account.configure", matrix_account.configure_params(ACCOUNT, device_name="b"))
    page_open(b)
    assert call(b, "sma.join")["muaa_id"] == b_id
    put_arrives(a, b, "second@example.net", kind.news_within_s)

    # Removal: B learns it by itself (no sma.sync), within the server's bound.
    removed_at = time.monotonic()
    assert call(a, "device.remove", muaa_id=b_id)["removed"] == b_id
    b.wait_notification("device.removed", lambda p: p["self"], timeout=kind.removal_within_s + 5)
    assert time.monotonic() - removed_at < kind.removal_within_s
    assert call(b, "sma.status")["removed"] is True

    assert call(a, "sma.leave")["left"] == a_id
    assert call(a, "sma.status")["self"] is None
    with imap_inspect.connect(matrix_account.server, matrix_account.user) as client:
        assert not [f for f in imap_inspect.folders(client) if f.endswith((a_id, b_id))]


def test_docs_servers_table_lists_the_matrix() -> None:
    text = (Path(__file__).parents[2] / "docs" / "servers.md").read_text()
    rows = [
        line.split("|")[1].strip().strip("`")
        for line in text.splitlines()
        if line.startswith("| `")
    ]
    assert rows == list(MATRIX)
