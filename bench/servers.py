"""Push latency and pairing time on every server set-up of the matrix (devtools/servers.py).

``python -m bench.servers [--reps N] [--only cyrus,courier]``: for each set-up, two hosts
with push on and their pages open (``ui.active``) pair, the "user" typing the code the
moment ``pair.requested`` arrives (timed from ``pair.request`` to ``pair.completed`` on
the existing device); then A's ``keys.put`` → B's ``keys.changed``, N times. Prints a
Markdown table and writes ``bench/results/servers.json``. The floors differ per server:
Dovecot holds IDLE pushes back 500 ms, Cyrus pushes at once, Courier's IDLE rechecks every
``IMAP_IDLE_TIMEOUT``, and a server without IDLE is polled (docs/protocol.md §11).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scenarios import entry, keydata
from devtools.dovecot import ImapUser
from devtools.host_process import HostProcess
from devtools.servers import MATRIX, ImapServer, imap_settings

ACCOUNT = "bench"


def _host(data: Path, server: ImapServer, user: ImapUser, name: str) -> HostProcess:
    host = HostProcess(data / name)
    host.call(
        "account.configure",
        {
            "account": ACCOUNT,
            "email": f"{user.name}@example.org",
            "device_name": name,
            "imap": imap_settings(server, user),
        },
    )
    host.send({"jsonrpc": "2.0", "method": "ui.active", "params": {"account": ACCOUNT}})
    return host


def _naming(addr: str) -> Callable[[dict[str, Any]], bool]:
    return lambda params: addr in params["addrs"]


def measure(kind_name: str, reps: int) -> dict[str, Any]:
    kind = MATRIX[kind_name]
    message = kind.install()
    if message:
        return {"server": kind_name, "error": message}
    user = ImapUser("bench", "bench-pw")
    server = kind.make([user])
    server.start()
    hosts: list[HostProcess] = []
    try:
        data = Path(tempfile.mkdtemp(prefix="bench-srv-"))
        a = _host(data, server, user, "a")
        b = _host(data, server, user, "b")
        hosts += [a, b]
        a_id = a.call("sma.join", {"account": ACCOUNT})["muaa_id"]
        b.call("sma.join", {"account": ACCOUNT})
        started = time.monotonic()
        request = b.call("pair.request", {"account": ACCOUNT, "to": a_id})
        a.wait_notification("pair.requested", timeout=120)
        a.call(
            "pair.accept",
            {"account": ACCOUNT, "pairing_id": request["pairing_id"], "code": request["code"]},
        )
        a.wait_notification("pair.completed", timeout=120)
        pairing = time.monotonic() - started
        b.wait_notification("pair.completed", timeout=120)
        pushes = []
        for i in range(reps):
            time.sleep(1.0)  # B idle again
            addr = f"p{i}@example.net"
            started = time.monotonic()
            a.call("keys.put", {"account": ACCOUNT, "peers": [entry(addr, 10 + i, keydata())]})
            b.wait_notification("keys.changed", _naming(addr), timeout=120)
            pushes.append(time.monotonic() - started)
        return {
            "server": kind_name,
            "pairing_s": round(pairing, 3),
            "push_median_s": round(statistics.median(pushes), 3),
            "push_max_s": round(max(pushes), 3),
        }
    finally:
        for host in hosts:
            host.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default=",".join(MATRIX))
    args = parser.parse_args()
    rows = [measure(name, args.reps) for name in args.only.split(",")]
    print("| server | pairing (s) | push median (s) | push max (s) |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        if "error" in row:
            print(f"| {row['server']} | {row['error']} | | |")
        else:
            print(
                f"| {row['server']} | {row['pairing_s']} | {row['push_median_s']} "
                f"| {row['push_max_s']} |"
            )
    out = Path(__file__).parent / "results" / "servers.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
