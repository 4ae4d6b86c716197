"""The fault campaign's storage and TLS cases (``make fuzz``; ``make test`` has them as
tests/reliability/test_storage.py and test_tls_faults.py).

- full disk: A's data dir is a small tmpfs (root only), filled to the last byte; A's puts
  must fail with ``storage_failed`` (never a crash or a traceback), the database must pass
  ``PRAGMA integrity_check``, and once space returns a put works and everything A
  acknowledged reaches B. Lost: an acknowledged put B never gets, or one A lost.
- read-only database: A's data dir becomes a read-only bind mount and A starts on it; its
  calls fail with ``storage_failed``; writable again, A has everything and sends again.
- TLS faults: the handshake to the TLS port is answered with garbage, cut midway or left
  silent (``devtools.tls_fault``): a clear ``connection_failed``/``tls_failed``, ``hello``
  answered meanwhile, and recovery once the path heals.
- stripped STARTTLS: a proxy removes STARTTLS from the capabilities; the host must refuse
  (``tls_failed``) and never send LOGIN in the clear.
"""

from __future__ import annotations

import errno
import os
import random
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench.scenarios import ACCOUNT, Bench, call, entry, keydata, pair_by_sync
from devtools.host_process import DB_NAME, HostProcess, RpcError, integrity_check, until
from devtools.imap_proxy import ImapProxy
from devtools.servers import imap_settings
from devtools.tls_fault import TlsFaultRelay

DB = DB_NAME


def is_root() -> bool:
    return os.geteuid() == 0


@contextmanager
def tmpfs(where: Path, size: str = "6m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill_disk(mount: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = mount / "filler"
    with open(filler, "wb", buffering=0) as out:
        while True:
            try:
                out.write(b"\0" * 4096)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return filler


def _addrs(host: HostProcess) -> set[str]:
    return {e["addr"] for e in call(host, "keys.list")["peers"]}


def _deliver(a: HostProcess, b: HostProcess, wanted: set[str]) -> bool:
    """Sync both until B has ``wanted`` (or 30 s passed)."""

    def step() -> bool:
        for host in (a, b):
            try:
                call(host, "sma.sync")
            except RpcError:
                pass  # the next round tries again
        return wanted <= _addrs(b)

    return until(step)


def _answers(host: HostProcess) -> bool:
    return "result" in host.request("sma.status", {"account": ACCOUNT})


def _storage_failed(response: dict[str, Any]) -> bool:
    error = response.get("error", {})
    return bool(error.get("data", {}).get("reason") == "storage_failed")


def _spawn(bench: Bench, name: str, data: Path, user: Any) -> HostProcess:
    """A host whose state lives in ``data`` (its stderr log stays in the scratch dir)."""
    host = HostProcess(
        bench.scratch / f"{name}-{time.monotonic_ns()}",
        env={"SMA_HOST_DATA_DIR": str(data), "SMA_HOST_PUSH": "off"},
    )
    bench.configure(host, user, name)
    return host


def full_disk(bench: Bench, rng: random.Random, rounds: int, tally: Any) -> None:
    for round_ in range(rounds):
        name = f"full disk {round_}"
        user = bench.new_user()
        with tmpfs(bench.scratch / f"disk-{round_}") as disk, bench.hosts() as spawned:
            a = _spawn(bench, "a", disk / "a", user)
            spawned.append(a)
            a_id = call(a, "sma.join")["muaa_id"]
            b, _b_id = bench.device(spawned, user, "b", False, None)
            pair_by_sync(b, a, a_id)
            acknowledged: set[str] = set()
            filler = fill_disk(disk)
            before = len(a.stderr_text())
            failed, problems = 0, []
            for i in range(60):
                addr = f"full-{round_}-{i}@example.net"
                response = a.request(
                    "keys.put",
                    {"account": ACCOUNT, "peers": [entry(addr, 10 + i, keydata())]},
                    timeout=60,
                )
                if "result" in response:
                    acknowledged.add(addr)
                elif _storage_failed(response):
                    failed += 1
                    if failed >= 3:
                        break
                else:
                    problems.append(f"unclear error {response['error']}")
                    break
            if failed == 0:
                problems.append("the full disk never failed a put")
            if a.call("hello")["protocol"] != 1:
                problems.append("hello")
            if "Traceback" in a.stderr_text()[before:]:
                problems.append("a traceback on stderr")
            check = integrity_check(disk / "a" / DB)
            if check != "ok":
                problems.append(f"integrity_check: {check}")
            filler.unlink()
            after = f"after-full-{round_}@example.net"
            try:
                call(a, "keys.put", peers=[entry(after, 999, keydata())])
                acknowledged.add(after)
            except RpcError as exc:
                problems.append(f"no recovery: {exc}")
            stored = _addrs(a)

            _deliver(a, b, acknowledged)
            if problems:
                tally.fail(name, "; ".join(problems))
            else:
                lost = (acknowledged - _addrs(b)) | (acknowledged - stored)
                tally.judge(name, lost, len(stored - acknowledged))


def read_only(bench: Bench, rng: random.Random, rounds: int, tally: Any) -> None:
    for round_ in range(rounds):
        name = f"read-only database {round_}"
        user = bench.new_user()
        with tmpfs(bench.scratch / f"ro-{round_}") as disk, bench.hosts() as spawned:
            data = disk / "a"
            a = _spawn(bench, "a", data, user)
            spawned.append(a)
            a_id = call(a, "sma.join")["muaa_id"]
            b, _b_id = bench.device(spawned, user, "b", False, None)
            pair_by_sync(b, a, a_id)
            first = f"before-ro-{round_}@example.net"
            call(a, "keys.put", peers=[entry(first, 5, keydata())])
            a.close()
            problems: list[str] = []
            subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
            try:
                subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
                ro = HostProcess(
                    bench.scratch / f"ro-host-{round_}",
                    env={"SMA_HOST_DATA_DIR": str(data), "SMA_HOST_PUSH": "off"},
                )
                spawned.append(ro)
                try:
                    bench.configure(ro, user, "a")
                    response = ro.request(
                        "keys.put",
                        {"account": ACCOUNT, "peers": [entry("ro@example.net", 6, keydata())]},
                    )
                except RpcError as exc:
                    response = {"error": exc.error}
                if not _storage_failed(response):
                    problems.append(f"not storage_failed: {response}")
                if ro.call("hello")["protocol"] != 1:
                    problems.append("hello")
                if "Traceback" in ro.stderr_text():
                    problems.append("a traceback on stderr")
                ro.close()
            finally:
                subprocess.run(["umount", str(data)], check=True)
            check = integrity_check(data / DB)
            if check != "ok":
                problems.append(f"integrity_check: {check}")
            a = _spawn(bench, "a", data, user)
            spawned.append(a)
            after = f"after-ro-{round_}@example.net"
            call(a, "keys.put", peers=[entry(after, 7, keydata())])

            _deliver(a, b, {first, after})
            if problems:
                tally.fail(name, "; ".join(problems))
            else:
                tally.judge(name, {first, after} - _addrs(b) | {first, after} - _addrs(a), 0)


def tls_faults(bench: Bench, rng: random.Random, rounds: int, tally: Any) -> None:
    server = bench.server
    for round_ in range(rounds):
        for mode in ("garbage", "close_mid", "stall"):
            name = f"TLS handshake {mode} {round_}"
            user = bench.new_user()
            with (
                TlsFaultRelay(server.host, server.tls_port, rng.randrange(2**32)) as relay,
                bench.hosts() as spawned,
            ):
                host = bench.spawn("tls", False)
                spawned.append(host)
                params = {
                    "account": ACCOUNT,
                    "email": f"{user.name}@example.org",
                    "device_name": "tls",
                    "imap": imap_settings(server, user, "tls", relay.port),
                }
                host.call("account.configure", params)
                call(host, "sma.join")
                relay.mode = mode
                relay.drop_all()
                problems: list[str] = []
                started = time.monotonic()
                reply = host.request("sma.status", {"account": ACCOUNT}, timeout=60)
                if time.monotonic() - started > 40:
                    problems.append("took over 40 s")
                reason = reply.get("error", {}).get("data", {}).get("reason")
                if reason not in ("connection_failed", "tls_failed"):
                    problems.append(f"not a connection error: {reply}")
                if user.password in host.stderr_text() or "Traceback" in host.stderr_text():
                    problems.append("password or traceback on stderr")
                relay.mode = "pass"
                host.call("account.configure", params, timeout=60)
                if not until(partial(_answers, host), 60):
                    problems.append("no recovery")
                if problems:
                    tally.fail(name, "; ".join(problems))
                else:
                    tally.judge(name, set(), 0)


def stripped_starttls(bench: Bench, rng: random.Random, rounds: int, tally: Any) -> None:
    server = bench.server
    for round_ in range(rounds):
        name = f"STARTTLS stripped {round_}"
        user = bench.new_user()
        with ImapProxy(server.host, server.port) as proxy, bench.hosts() as spawned:
            host = bench.spawn("starttls", False)
            spawned.append(host)
            params = {
                "account": ACCOUNT,
                "email": f"{user.name}@example.org",
                "device_name": "starttls",
                "imap": imap_settings(server, user, "starttls", proxy.port),
            }
            problems: list[str] = []
            proxy.strip_starttls = True
            reply = host.request("account.configure", params)
            if reply.get("error", {}).get("data", {}).get("reason") != "tls_failed":
                problems.append(f"not refused: {reply}")
            if {"LOGIN", "AUTHENTICATE"} & set(proxy.commands()):
                problems.append("logged in in the clear")
            proxy.strip_starttls = False
            if "result" not in host.request("account.configure", params):
                problems.append("no recovery once STARTTLS is offered")
            if problems:
                tally.fail(name, "; ".join(problems))
            else:
                tally.judge(name, set(), 0)
