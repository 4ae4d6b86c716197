"""The measurements. Each section returns its rows; ``run.py`` puts them in order.

Everything runs against one throw-away Dovecot on loopback (plain IMAP: the counting
proxy must read the commands, so TLS is left out of every figure). Hosts are spawned
exactly as Thunderbird spawns them (``devtools.host_process``) and closed in ``finally``.
"""

from __future__ import annotations

import base64
import functools
import itertools
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from pysequoia import Tsk

from bench.report import Row, Stat, fmt_stat
from bench.stdio import (
    LIBRARY_FLOOR,
    finish,
    held_python_rss_kib,
    hello_frame,
    host_argv,
    launch,
    peak_rss_kib,
    pysequoia_floor,
    python_rss_kib,
    read_frame,
)
from devtools.dovecot import DovecotServer, ImapUser, drop_into_maildir, maildir_folder
from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy
from devtools.servers import imap_settings

ACCOUNT = "bench"
MB = 1_000_000
#: Entries in E's keyring in the pairing rows: they travel in the pairing.
PAIRING_KEYRING = 100


@dataclass(frozen=True)
class Plan:
    """How much to measure. ``smoke`` keeps every code path at a tiny size."""

    smoke: bool
    cold_reps: int
    hello_pipelined: int
    hello_sequential: int
    hello_reps: int
    noop_count: int
    idle_reps: int
    join_reps: int
    pairing_reps: int
    push_reps: int
    sync_sizes: tuple[int, ...]
    sync_reps: tuple[int, ...]
    #: The size the 1 s target is about; its row is the one judged.
    sync_judged: int
    fanout_devices: int
    fanout_entries: int
    fanout_reps: int
    #: Raw bytes of each entry's ``keydata``: the real key of ``keydata()``.
    keydata_bytes: int
    #: INBOX messages for the first ``mail.scan``, and the new ones for the second.
    scan_messages: int
    scan_new: int

    @classmethod
    def full(cls, keydata_bytes: int) -> Plan:
        return cls(
            smoke=False,
            cold_reps=25,
            hello_pipelined=5000,
            hello_sequential=2000,
            hello_reps=5,
            noop_count=300,
            idle_reps=5,
            join_reps=5,
            pairing_reps=5,
            push_reps=5,
            sync_sizes=(100, 1000, 10_000),
            sync_reps=(5, 5, 3),
            sync_judged=1000,
            fanout_devices=10,
            fanout_entries=1000,
            fanout_reps=5,
            keydata_bytes=keydata_bytes,
            scan_messages=10_000,
            scan_new=10,
        )

    @classmethod
    def tiny(cls, keydata_bytes: int) -> Plan:
        return cls(
            smoke=True,
            cold_reps=1,
            hello_pipelined=200,
            hello_sequential=100,
            hello_reps=1,
            noop_count=20,
            idle_reps=1,
            join_reps=1,
            pairing_reps=1,
            push_reps=1,
            sync_sizes=(5, 10, 20),
            sync_reps=(1, 1, 1),
            sync_judged=10,
            fanout_devices=2,
            fanout_entries=20,
            fanout_reps=1,
            keydata_bytes=keydata_bytes,
            scan_messages=20,
            scan_new=3,
        )


@dataclass
class Floors:
    """Measured once, used by several rows."""

    noop_rtt: Stat | None = None
    idle_delay: Stat | None = None


class Bench:
    """The shared state of one run: the server, the scratch dir, the running hosts."""

    def __init__(self, plan: Plan, server: DovecotServer, scratch: Path) -> None:
        self.plan = plan
        self.server = server
        self.scratch = scratch
        self.floors = Floors()
        self._hosts: list[HostProcess] = []
        self._names = itertools.count(1)
        self._users = itertools.count(1)

    # accounts and hosts

    def new_user(self) -> ImapUser:
        user = ImapUser(f"bench{next(self._users)}", f"pw-{os.urandom(6).hex()}")
        self.server.add_user(user)
        return user

    def spawn(self, name: str, push: bool, data_dir: Path | None = None) -> HostProcess:
        directory = data_dir or self.scratch / f"{next(self._names):03}-{name}"
        host = HostProcess(directory, env={"SMA_HOST_PUSH": "on" if push else "off"})
        self._hosts.append(host)
        return host

    def close(self, *hosts: HostProcess) -> None:
        """Close hosts (stdin first for all, so their shutdowns overlap)."""
        for host in hosts:
            host.close_stdin()
        failure: BaseException | None = None
        for host in hosts:
            try:
                host.close()
            except BaseException as exc:  # close the others all the same
                failure = failure or exc
            finally:
                if host in self._hosts:
                    self._hosts.remove(host)
        if failure is not None:
            raise failure

    def close_all(self) -> None:
        self.close(*list(self._hosts))

    @contextmanager
    def hosts(self) -> Iterator[list[HostProcess]]:
        """Hosts spawned inside are collected in the list and closed on the way out."""
        started: list[HostProcess] = []
        try:
            yield started
        finally:
            self.close(*started)

    def configure(
        self,
        host: HostProcess,
        user: ImapUser,
        name: str,
        port: int | None = None,
        account: str = "",
    ) -> None:
        """``account.configure`` over plain IMAP on loopback, through ``port`` (a proxy)
        or straight to the server."""
        host.call(
            "account.configure",
            {
                "account": account or ACCOUNT,
                "email": f"{user.name}@example.org",
                "device_name": name,
                "imap": imap_settings(self.server, user, "none", port),
            },
        )

    def device(
        self, spawned: list[HostProcess], user: ImapUser, name: str, push: bool, port: int | None
    ) -> tuple[HostProcess, str]:
        host = self.spawn(name, push)
        spawned.append(host)
        self.configure(host, user, name, port)
        muaa_id: str = host.call("sma.join", {"account": ACCOUNT})["muaa_id"]
        return host, muaa_id

    def direct_client(self, user: ImapUser, via: ImapProxy | None = None) -> IMAPClient:
        host, port = (via.host, via.port) if via else (self.server.host, self.server.port)
        client = IMAPClient(host, port=port, ssl=False, timeout=30)
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.login(user.name, user.password)
        return client


# ---------------------------------------------------------------------------- helpers


def call(host: HostProcess, method: str, timeout: float = 60.0, **params: Any) -> Any:
    return host.call(method, {"account": ACCOUNT, **params}, timeout=timeout)


def entry(addr: str, timestamp: int, keydata: str) -> dict[str, Any]:
    return {
        "addr": addr,
        "keydata": keydata,
        "prefer_encrypt": "mutual",
        "autocrypt_timestamp": timestamp,
        "last_seen": timestamp,
    }


@functools.cache
def keydata() -> str:
    """A real OpenPGP public key (Ed25519/Cv25519, one user ID), base64 as in the Autocrypt
    header: the host checks every key it takes. One key for every entry, as before."""
    cert = Tsk.generate("Bench <bench-key@example.net>").extract_certificate()
    return base64.b64encode(bytes(cert)).decode("ascii")


def settle(proxy: ImapProxy, quiet: float = 0.3, timeout: float = 15.0) -> None:
    """Wait until no host sends an IMAP command for ``quiet`` seconds (watchers back in
    IDLE, no fast polling, no background sync)."""
    deadline = time.monotonic() + timeout
    seen = len(proxy.commands())
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(proxy.commands())
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise TimeoutError("the hosts did not go quiet")


def pair_by_push(
    new: HostProcess, existing: HostProcess, existing_id: str, proxy: ImapProxy | None = None
) -> dict[str, float]:
    """Pair through notifications only, the code typed at once, both pages open (the
    add-on's ``ui.active``, which allows fast polling); returns the hop times. With
    ``proxy``, the clock starts once the open pages poll (a user opens the page before
    typing: the watcher looks at the policy every 0.5 s)."""
    for host in (new, existing):
        host.send({"jsonrpc": "2.0", "method": "ui.active", "params": {"account": ACCOUNT}})
    if proxy is not None:
        proxy.wait_for(lambda c: c.count("NOOP") >= 4, 10)
    started = time.monotonic()
    request = call(new, "pair.request", to=existing_id)
    returned = time.monotonic()
    pid = request["pairing_id"]

    def ours(p: dict[str, Any]) -> bool:
        return bool(p.get("pairing_id") == pid)

    existing.wait_notification("pair.requested", ours, timeout=30)
    requested = time.monotonic()
    call(existing, "pair.accept", pairing_id=pid, code=request["code"])
    accepted = time.monotonic()
    new.wait_notification("pair.completed", ours, timeout=30)
    new_done = time.monotonic()
    existing.wait_notification("pair.completed", ours, timeout=30)
    done = time.monotonic()
    return {
        "total": done - started,
        "request_call": returned - started,
        "hop1_request_to_requested": requested - started,
        "accept_call": accepted - requested,
        "hop2_accept_to_completed_new": new_done - requested,
        "hop3_to_completed_existing": done - new_done,
    }


def pair_by_sync(new: HostProcess, existing: HostProcess, existing_id: str) -> None:
    """Pair with push off: each step is an explicit ``sma.sync``."""
    request = call(new, "pair.request", to=existing_id)
    call(existing, "sma.sync")
    call(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    call(new, "sma.sync")
    call(existing, "sma.sync")
    for host in (new, existing):
        host.wait_notification(
            "pair.completed", lambda p: p.get("pairing_id") == request["pairing_id"], timeout=5
        )


def timed_call(
    host: HostProcess, method: str, timeout: float = 60.0, **params: Any
) -> tuple[float, Any]:
    """(seconds from sending the request to reading its answer, the result)."""
    started = time.perf_counter()
    result = call(host, method, timeout, **params)
    return time.perf_counter() - started, result


def naming(addr: str) -> Callable[[dict[str, Any]], bool]:
    """A ``keys.changed`` filter: the notification names ``addr``."""
    return lambda params: addr in params.get("addrs", [])


# ------------------------------------------------------------------ cold start, hello


def cold_start(bench: Bench) -> list[Row]:
    """Spawn → ``hello`` answered, against ``python3 -c pass`` spawned the same way."""
    plan = bench.plan
    data_dir = bench.scratch / "cold-start"
    data_dir.mkdir()
    baseline_argv = [sys.executable, "-c", "pass"]
    host_times: list[float] = []
    base_times: list[float] = []
    with open(data_dir / "stderr.log", "ab") as stderr:

        def host_once() -> float:
            started = time.perf_counter()
            process = launch(host_argv(data_dir), data_dir, stderr)
            try:
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(hello_frame(1))
                process.stdin.flush()
                answer = read_frame(process.stdout)
                elapsed = time.perf_counter() - started
            finally:
                finish(process)
            if answer.get("result", {}).get("protocol") != 1:
                raise RuntimeError(f"hello answered {answer}")
            return elapsed

        def baseline_once() -> float:
            started = time.perf_counter()
            process = launch(baseline_argv, data_dir, stderr)
            # A blocking wait: Popen.wait(timeout) polls with growing sleeps and would
            # add milliseconds to the baseline.
            code = process.wait()
            elapsed = time.perf_counter() - started
            finish(process)
            if code != 0:
                raise RuntimeError("python3 -c pass failed")
            return elapsed

        # One unmeasured run each: page cache and .pyc files as Thunderbird finds them
        # on any start after the first.
        host_once()
        baseline_once()
        for _ in range(plan.cold_reps):  # interleaved, so drift hits both alike
            host_times.append(host_once())
            base_times.append(baseline_once())
    value, base = Stat.of(host_times), Stat.of(base_times)
    row = Row(
        "cold_start",
        "cold start: spawn → `hello` answered",
        "s",
        value,
        "≤ 2.0× baseline",
        baseline=base,
        baseline_label="`python3 -c pass`",
    )
    assert row.ratio is not None
    row.holds = row.ratio <= 2.0
    row.notes.append(
        f"both spawned with the launch Thunderbird uses (pipes, cwd, env), {plan.cold_reps}"
        f" interleaved run(s) after one warm-up each; baseline interpreter: {sys.executable}"
        " (the host's own)"
    )
    return [row]


def hello_rate(bench: Bench) -> list[Row]:
    """``hello`` round trips per second on one open host: pipelined and one at a time."""
    plan = bench.plan
    data_dir = bench.scratch / "hello"
    data_dir.mkdir()
    pipelined: list[float] = []
    sequential: list[float] = []
    with open(data_dir / "stderr.log", "ab") as stderr:
        process = launch(host_argv(data_dir), data_dir, stderr)
        try:
            assert process.stdin is not None and process.stdout is not None
            stdin, stdout = process.stdin, process.stdout
            stdin.write(hello_frame(0))
            stdin.flush()
            read_frame(stdout)
            ids = itertools.count(1)
            for _ in range(plan.hello_reps):
                first = next(ids)
                batch = b"".join(hello_frame(first + i) for i in range(plan.hello_pipelined))
                for _ in range(plan.hello_pipelined - 1):
                    next(ids)
                # The host's answers fill the stdout pipe while we write: write from a
                # thread, read here.
                writer = threading.Thread(
                    target=lambda b=batch: (stdin.write(b), stdin.flush()), daemon=True
                )
                started = time.perf_counter()
                writer.start()
                last: dict[str, Any] = {}
                for _ in range(plan.hello_pipelined):
                    last = read_frame(stdout)
                elapsed = time.perf_counter() - started
                writer.join()
                if last.get("id") != first + plan.hello_pipelined - 1 or "result" not in last:
                    raise RuntimeError(f"unexpected last answer {str(last)[:200]}")
                pipelined.append(plan.hello_pipelined / elapsed)

                started = time.perf_counter()
                for _ in range(plan.hello_sequential):
                    request_id = next(ids)
                    stdin.write(hello_frame(request_id))
                    stdin.flush()
                    if read_frame(stdout).get("id") != request_id:
                        raise RuntimeError("answer out of order")
                sequential.append(plan.hello_sequential / (time.perf_counter() - started))
        finally:
            finish(process)
    rows = [
        Row(
            "hello_pipelined",
            f"`hello` round trips/s, pipelined ({plan.hello_pipelined:,} sent, then read)",
            "/s",
            Stat.of(pipelined),
            "≥ 5,000/s",
        ),
        Row(
            "hello_sequential",
            f"`hello` round trips/s, one at a time ({plan.hello_sequential:,})",
            "/s",
            Stat.of(sequential),
            "— (informative)",
        ),
    ]
    rows[0].holds = rows[0].value is not None and rows[0].value.median >= 5000
    rows[0].notes.append(
        "raw framed stdio (no harness reader thread); the bench's own JSON decoding of"
        " each answer is included"
    )
    return rows


# ---------------------------------------------------------------------------- floors


def floors(bench: Bench) -> list[Row]:
    """NOOP round trip through the proxy, and Dovecot's IDLE delay (APPEND on one
    connection → EXISTS on another that idles)."""
    plan = bench.plan
    user = bench.new_user()
    rtts: list[float] = []
    with ImapProxy(bench.server.host, bench.server.port) as proxy:
        client = bench.direct_client(user, via=proxy)
        try:
            client.noop()
            for _ in range(plan.noop_count):
                started = time.perf_counter()
                client.noop()
                rtts.append(time.perf_counter() - started)
        finally:
            client.logout()
    delays: list[float] = []
    watcher = bench.direct_client(user)
    writer = bench.direct_client(user)
    try:
        writer.create_folder("bench-idle")
        watcher.select_folder("bench-idle", readonly=True)
        message = b"Subject: idle probe\r\n\r\nx\r\n"
        for _ in range(plan.idle_reps + 1):
            watcher.idle()
            time.sleep(0.2)
            started = time.perf_counter()
            writer.append("bench-idle", message)
            arrived = None
            deadline = time.monotonic() + 10
            while arrived is None and time.monotonic() < deadline:
                for response in watcher.idle_check(timeout=0.01):
                    if len(response) >= 2 and response[1] == b"EXISTS":
                        arrived = time.perf_counter()
            watcher.idle_done()
            if arrived is None:
                raise RuntimeError("IDLE never reported the APPEND")
            delays.append(arrived - started)
            time.sleep(0.6)  # let any pending notification timer of the server run out
        delays = delays[1:]  # the first one includes the server's first look at the folder
    finally:
        for client in (watcher, writer):
            client.logout()
    bench.floors.noop_rtt = Stat.of(rtts)
    bench.floors.idle_delay = Stat.of(delays)
    return [
        Row(
            "floor_noop",
            "floor: NOOP round trip through the counting proxy",
            "s",
            bench.floors.noop_rtt,
            notes=[f"{plan.noop_count} NOOPs on one logged-in connection"],
        ),
        Row(
            "floor_idle",
            "floor: Dovecot IDLE delay (APPEND → EXISTS on an idling connection)",
            "s",
            bench.floors.idle_delay,
            "— (server constant, nominally 500 ms)",
        ),
    ]


# --------------------------------------------------------------------- configure + join


def bare_join(bench: Bench, user: ImapUser, proxy: ImapProxy) -> tuple[float, list[str]]:
    """What a fresh join asks of the server, sent by a bare imapclient (no host): the
    server's own share of the wall time (CREATE and APPEND touch its disk, NOOP does not)."""
    proxy.reset()
    started = time.perf_counter()
    client = IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=30)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.capabilities()
        client.login(user.name, user.password)
        client.namespace()
        client.create_folder("_Autocrypt_SMA")
        client.create_folder("_Autocrypt_SMA_00000000000000b0")
        client.select_folder("_Autocrypt_SMA", readonly=True)
        client._imap.uid("FETCH", "1:*", "(UID RFC822.SIZE)")
        client.unselect_folder()
        client.append("_Autocrypt_SMA", b"Subject: probe\r\n\r\n" + b"x" * 1200, flags=())
        elapsed = time.perf_counter() - started
    finally:
        client.logout()
    return elapsed, [c for c in proxy.commands() if c != "LOGOUT"]


def configure_join(bench: Bench) -> list[Row]:
    plan = bench.plan
    walls: list[float] = []
    counts: list[int] = []
    floors_: list[float] = []
    warm: list[float] = []
    warm_counts: list[int] = []
    bare: list[float] = []
    bare_commands: list[str] = []
    noop = bench.floors.noop_rtt
    assert noop is not None
    commands: list[str] = []
    with ImapProxy(bench.server.host, bench.server.port) as proxy:
        for rep in range(plan.join_reps):
            user = bench.new_user()
            with bench.hosts() as spawned:
                host = bench.spawn(f"join{rep}", push=False)
                spawned.append(host)
                host.call("hello")  # started; its cold start is measured elsewhere
                proxy.reset()
                started = time.perf_counter()
                bench.configure(host, user, "Laptop", proxy.port)
                joined = call(host, "sma.join")
                walls.append(time.perf_counter() - started)
                commands = proxy.commands()
                if not joined.get("created_sma") and rep == 0:
                    raise RuntimeError("the account was not fresh")
                # The same host again, for a second fresh account: without the
                # first call's imports and database set-up.
                second = bench.new_user()
                proxy.reset()
                started = time.perf_counter()
                bench.configure(host, second, "Laptop", proxy.port, account="second")
                host.call("sma.join", {"account": "second"})
                warm.append(time.perf_counter() - started)
                warm_counts.append(len(proxy.commands()))
            counts.append(len(commands))
            floors_.append(noop.median * len(commands))
            bare_time, bare_commands = bare_join(bench, bench.new_user(), proxy)
            bare.append(bare_time)
        # The watcher (push on) has a connection of its own: what it costs on top.
        user = bench.new_user()
        with bench.hosts() as spawned:
            host = bench.spawn("join-push", push=True)
            spawned.append(host)
            proxy.reset()
            bench.configure(host, user, "Laptop", proxy.port)
            call(host, "sma.join")
            proxy.wait_for(lambda c: "IDLE" in c, 10)
            with_watcher = proxy.commands()
    watcher_extra = len(with_watcher) - len(commands)
    count_stat = Stat.of(counts)
    wall = Row(
        "join_wall",
        "configure + join on a fresh account: wall time",
        "s",
        Stat.of(walls),
        "— (informative)",
        baseline=Stat.of(floors_),
        baseline_label="NOOP round trip × commands",
    )
    wall.notes.append(
        "plain IMAP on loopback through the proxy, so no TLS handshake; push off (the"
        " watcher's connection is counted separately)"
    )
    warm_stat = Stat.of(warm)
    wall.notes.append(
        f"a second fresh account on the same, already warm host: {fmt_stat(warm_stat, 's')}"
        f" ({Stat.of(warm_counts).median:g} commands): the rest is the first account call's"
        " one-time cost (lazy imports, database creation)"
    )
    wall.extra["warm_second_account"] = warm_stat.to_json()
    bare_stat = Stat.of(bare)
    wall.notes.append(
        f"the same {len(bare_commands)} commands sent by a bare imapclient (no host):"
        f" {fmt_stat(bare_stat, 's')}; a closer floor than NOOP × commands, since CREATE,"
        " LOGIN and APPEND make the server work"
    )
    wall.extra["bare_client"] = {**bare_stat.to_json(), "commands": bare_commands}
    count = Row(
        "join_commands",
        "configure + join on a fresh account: IMAP commands",
        "commands",
        count_stat,
        "≤ 12",
        holds=count_stat.max <= 12,
    )
    count.notes.append("commands: " + " ".join(commands))
    count.notes.append(
        f"with push on, the watcher adds {watcher_extra} on its own connection until it"
        f" idles: {' '.join(with_watcher[len(commands) :])}"
    )
    count.extra["commands"] = commands
    count.extra["watcher_commands"] = with_watcher[len(commands) :]
    return [wall, count]


# ---------------------------------------------------------------------------- pairing


def pairing(bench: Bench) -> list[Row]:
    plan = bench.plan
    idle = bench.floors.idle_delay
    assert idle is not None
    totals: list[float] = []
    hops: list[dict[str, float]] = []
    polls: list[int] = []
    usable: list[float] = []
    with ImapProxy(bench.server.host, bench.server.port) as proxy:
        for _ in range(plan.pairing_reps):
            user = bench.new_user()
            with bench.hosts() as spawned:
                existing, existing_id = bench.device(spawned, user, "Desktop", True, proxy.port)
                new, _new_id = bench.device(spawned, user, "Laptop", True, proxy.port)
                key = keydata()
                keyring = [
                    entry(f"pair{i}@example.net", 1_700_000_000, key)
                    for i in range(PAIRING_KEYRING)
                ]
                call(existing, "keys.put", peers=keyring)
                proxy.wait_for(lambda c: c.count("IDLE") >= 2, 10)
                settle(proxy)
                proxy.reset()
                times = pair_by_push(new, existing, existing_id, proxy)
                polls.append(proxy.commands().count("NOOP"))
                # Nothing reaches N after pairing any more: what it holds now, it held
                # when it said paired.
                got = call(new, "keys.list")["total"]
                if got != PAIRING_KEYRING:
                    raise RuntimeError(f"N holds {got} of E's {PAIRING_KEYRING} entries")
            totals.append(times["total"])
            usable.append(
                times["hop1_request_to_requested"] + times["hop2_accept_to_completed_new"]
            )
            hops.append(times)
    row = Row(
        "pairing",
        "pairing end to end, 2 hosts, notifications only, code typed at once",
        "s",
        Stat.of(totals),
        "≤ 0.7 s",
        baseline=Stat.of([3 * d for d in idle.samples]),
        baseline_label="3 × IDLE delay",
    )
    row.holds = row.value is not None and row.value.median <= 0.7
    for name in (
        "hop1_request_to_requested",
        "hop2_accept_to_completed_new",
        "hop3_to_completed_existing",
    ):
        stat = Stat.of([h[name] for h in hops])
        row.extra[name] = stat.to_json()
    hop_text = ", ".join(
        f"{label} {Stat.of([h[name] for h in hops]).median * 1000:.0f} ms"
        for label, name in (
            ("request → `pair.requested` on E", "hop1_request_to_requested"),
            ("accept → `pair.completed` on N", "hop2_accept_to_completed_new"),
            ("→ `pair.completed` on E", "hop3_to_completed_existing"),
        )
    )
    row.notes.append(f"medians per hop: {hop_text}; NOOP polls during the pairing: {polls}")
    second = Row(
        "pairing_usable",
        f"second device usable: `pair.request` → `pair.completed` on N, with E's account"
        f" key and keyring ({PAIRING_KEYRING} entries) on N, code typed at once",
        "s",
        Stat.of(usable),
        "≤ 0.9 × Delta Chat (`make bench-peers`)",
        baseline=Stat.of([2 * d for d in idle.samples]),
        baseline_label="2 × IDLE delay",
    )
    second.notes.append(
        "hop 1 + hop 2 of the row above; both pages open (`ui.active`), E's page open for"
        " a moment before the code is typed (its fast polling running), as when a user types"
        " it; N's keyring checked complete right after"
    )
    return [row, second]


# ------------------------------------------------------------------------- push latency


def push_latency(bench: Bench) -> list[Row]:
    plan = bench.plan
    idle = bench.floors.idle_delay
    assert idle is not None
    latencies: list[float] = []
    put_calls: list[float] = []
    user = bench.new_user()
    key = keydata()
    with ImapProxy(bench.server.host, bench.server.port) as proxy, bench.hosts() as spawned:
        a, a_id = bench.device(spawned, user, "A", True, proxy.port)
        b, _b_id = bench.device(spawned, user, "B", True, proxy.port)
        pair_by_push(b, a, a_id)
        for rep in range(plan.push_reps):
            settle(proxy)
            time.sleep(0.6)  # no server-side notification timer pending either
            addr = f"push{rep}@example.net"
            started = time.perf_counter()
            call(a, "keys.put", peers=[entry(addr, 1_700_000_000 + rep, key)])
            put_done = time.perf_counter()
            b.wait_notification("keys.changed", naming(addr), timeout=10)
            latencies.append(time.perf_counter() - started)
            put_calls.append(put_done - started)
    row = Row(
        "push_latency",
        "push latency: A `keys.put` → B `keys.changed`, B idle",
        "s",
        Stat.of(latencies),
        "≤ 0.8 s",
        baseline=idle,
        baseline_label="IDLE delay",
    )
    row.holds = row.value is not None and row.value.median <= 0.8
    row.notes.append(
        f"of which the `keys.put` call itself: {Stat.of(put_calls).median * 1000:.1f} ms (median)"
    )
    return [row]


# ---------------------------------------------------------------------- sync and RSS


@dataclass
class Sender:
    """What A needs to write key updates to B the way A's host would."""

    email: str
    a_id: str
    b_id: str
    sign_secret: bytes
    dh_secret: bytes
    b_dh: bytes
    db: Path

    @classmethod
    def read(cls, a_dir: Path, email: str, b_id: str) -> Sender:
        db = a_dir / "sma-host.sqlite3"
        with sqlite3.connect(db) as conn:
            a_id, sign_secret, dh_secret = conn.execute(
                "SELECT muaa_id, sign_secret, dh_secret FROM membership WHERE account = ?",
                (ACCOUNT,),
            ).fetchone()
            (b_dh,) = conn.execute(
                "SELECT dh_key FROM peer WHERE account = ? AND muaa_id = ?", (ACCOUNT, b_id)
            ).fetchone()
        conn.close()
        return cls(email, a_id, b_id, sign_secret, dh_secret, b_dh, db)

    def take_seqs(self, count: int) -> int:
        """Reserve ``count`` sequence numbers in A's ``send_seq``; returns the first."""
        with sqlite3.connect(self.db) as conn:
            row = conn.execute(
                "SELECT next_seq FROM send_seq WHERE account = ? AND recipient = ?",
                (ACCOUNT, self.b_id),
            ).fetchone()
            first = int(row[0]) if row else 1
            conn.execute(
                "INSERT OR REPLACE INTO send_seq VALUES (?, ?, ?)",
                (ACCOUNT, self.b_id, first + count),
            )
        conn.close()
        return first

    def key_updates(self, entries: list[dict[str, Any]]) -> Iterator[bytes]:
        """One sealed key-update message per entry, as N separate ``keys.put`` would."""
        from sma_host.protocol import channel, envelope
        from sma_host.protocol.crypto import Identity

        identity = Identity(self.sign_secret, self.dh_secret)
        first = self.take_seqs(len(entries))
        now = int(time.time())
        for offset, item in enumerate(entries):
            body = channel.seal(
                identity,
                self.a_id,
                self.b_id,
                self.b_dh,
                "key-update",
                first + offset,
                {"entries": [item]},
            )
            yield envelope.build_message(
                sma_type="key-update",
                sender=self.a_id,
                body=body,
                address=self.email,
                now=now,
                unique=os.urandom(8).hex(),
            )


def _size(count: int) -> str:
    return f"{count / MB:.1f} MB" if count >= MB / 10 else f"{count / 1000:.0f} kB"


#: What the host may hold above its libraries' floor (``LIBRARY_FLOOR``), at rest and
#: right after a large sync. Issue 14 asked for 30 MB and 40 MB: below that floor.
ABOVE_FLOOR_MB = 5.0


def library_floor(bench: Bench, name: str, prelude: str) -> Stat:
    """VmRSS (MB) of a bare interpreter that imported and used the host's libraries."""
    directory = bench.scratch / name
    directory.mkdir()
    with open(directory / "stderr.log", "ab") as stderr:
        return Stat.of([held_python_rss_kib(directory, stderr, prelude)[1] * 1024 / MB
                        for _ in range(3)])  # fmt: skip


def judge_above_floor(row: Row, floor: Stat, absolute_mb: int) -> None:
    row.baseline = floor
    row.baseline_label = "the libraries alone"
    row.target = f"≤ floor + {ABOVE_FLOOR_MB:g} MB"
    row.holds = row.value is not None and row.value.median <= floor.median + ABOVE_FLOOR_MB
    if row.value is not None:
        row.notes.append(
            f"{row.value.median - floor.median:+.1f} MB above the floor: the same Python with"
            " only the host's libraries imported and used once (bench/stdio.LIBRARY_FLOOR,"
            f" no sma-host code); issue 14 asked ≤ {absolute_mb} MB, which that floor"
            f" alone exceeds ({floor.median:.1f} MB)"
        )


def sync_and_rss(bench: Bench) -> list[Row]:
    plan = bench.plan
    user = bench.new_user()
    email = f"{user.name}@example.org"
    key = keydata()
    walls: dict[int, list[float]] = {n: [] for n in plan.sync_sizes}
    counts: dict[int, list[int]] = {n: [] for n in plan.sync_sizes}
    commands: dict[int, list[str]] = {}
    peaks: list[float] = []
    after_sync: list[float] = []
    hwms: dict[int, list[float]] = {n: [] for n in plan.sync_sizes}
    configured: list[float] = []
    message_bytes: dict[int, int] = {}
    with ImapProxy(bench.server.host, bench.server.port) as proxy, bench.hosts() as spawned:
        a, a_id = bench.device(spawned, user, "A", False, None)
        b, b_id = bench.device(spawned, user, "B", False, proxy.port)
        pair_by_sync(b, a, a_id)
        b_dir, a_dir = b.data_dir, a.data_dir
        bench.close(a, b)  # B is offline from now on; A's identity is read from its DB
        spawned.clear()
        sender = Sender.read(a_dir, email, b_id)
        folder = f"_Autocrypt_SMA_{b_id}"
        maildir = maildir_folder(bench.server, user, folder)
        stamp = itertools.count(1)
        for size, reps in zip(plan.sync_sizes, plan.sync_reps, strict=True):
            for rep in range(reps):
                batch = [
                    entry(f"s{size}-{i:05}@example.net", 1_700_000_000 + rep, key)
                    for i in range(size)
                ]
                raws = list(sender.key_updates(batch))
                message_bytes[size] = sum(len(r) for r in raws)
                drop_into_maildir(maildir, iter(raws), f"bench{next(stamp)}")
                # The server indexes the new files now (as it would at APPEND time),
                # not inside the measured sync.
                client = bench.direct_client(user)
                try:
                    state = client.select_folder(folder)
                    if int(state[b"EXISTS"]) != size:
                        raise RuntimeError(f"{folder} holds {state[b'EXISTS']}, not {size}")
                    client.unselect_folder()
                finally:
                    client.logout()
                with bench.hosts() as again:
                    host = bench.spawn("B", push=False, data_dir=b_dir)
                    again.append(host)
                    bench.configure(host, user, "B", proxy.port)
                    before_kib, _ = peak_rss_kib(host.process.pid)
                    proxy.reset()
                    wall, summary = timed_call(host, "sma.sync", timeout=600)
                    sent = proxy.commands()
                    hwm, rss_after = peak_rss_kib(host.process.pid)
                    if summary["processed"] != size or summary["keys_changed"] != size:
                        raise RuntimeError(f"sync of {size} applied {summary}")
                walls[size].append(wall)
                hwms[size].append(hwm * 1024 / MB)
                configured.append(before_kib * 1024 / MB)
                counts[size].append(len(sent))
                commands[size] = sent
                if size == plan.sync_sizes[-1]:
                    peaks.append(hwm * 1024 / MB)
                    after_sync.append(rss_after * 1024 / MB)
    python_dir = bench.scratch / "python-rss"
    python_dir.mkdir()
    with open(python_dir / "stderr.log", "ab") as stderr:
        python_rss = [python_rss_kib(python_dir, stderr) for _ in range(min(plan.cold_reps, 5))]
    rows: list[Row] = []
    for size in plan.sync_sizes:
        judged = size == plan.sync_judged
        row = Row(
            f"sync_{size}",
            f"sync of {size:,} waiting key-update messages: wall time",
            "s",
            Stat.of(walls[size]),
            "≤ 1 s" if judged else "— (informative)",
        )
        if judged:
            row.holds = row.value is not None and row.value.median <= 1.0
        per = Stat.of(walls[size]).median / size
        row.notes.append(
            f"{per * 1000:.2f} ms per message; {message_bytes[size] / size:,.0f} bytes per"
            f" message ({_size(message_bytes[size])} in all)"
        )
        row.extra["commands"] = commands[size]
        rows.append(row)
    all_counts = [c for size in plan.sync_sizes for c in counts[size]]
    medians = [Stat.of(counts[size]).median for size in plan.sync_sizes]
    constant = len(set(all_counts)) == 1
    count_row = Row(
        "sync_commands",
        "sync: IMAP commands for N = " + " / ".join(f"{n:,}" for n in plan.sync_sizes),
        "commands",
        Stat.of(all_counts),
        "constant in N, ≤ 10",
        holds=constant and max(all_counts) <= 10,
        text=" / ".join(f"{m:g}" for m in medians) + ("" if constant else " (varies)"),
    )
    count_row.notes.append(
        "commands: " + " ".join(commands[plan.sync_sizes[-1]]) + " (B restarted with push off"
        " for each sync; counted from the sync request to its answer)"
    )
    count_row.extra["per_size"] = {str(n): counts[n] for n in plan.sync_sizes}
    rows.append(count_row)
    largest = plan.sync_sizes[-1]
    rss = Row(
        "peak_rss",
        f"peak RSS of the host while syncing {largest:,} entries",
        "MB",
        Stat.of(peaks),
        "≤ 80 MB",
        baseline=Stat.of([k * 1024 / MB for k in python_rss]),
        baseline_label="`python3 -c pass`",
    )
    rss.holds = rss.value is not None and rss.value.median <= 80
    rss.notes.append(
        "VmHWM of a freshly started host after configure + the sync; baseline: VmHWM of"
        " `python3 -c pass` held open at its end; MB = 10⁶ bytes"
    )
    rss.notes.append(
        "VmHWM after configure, before any sync: "
        f"{Stat.of(configured).median:.1f} MB; after syncing "
        + ", ".join(f"{n:,}: {Stat.of(hwms[n]).median:.1f} MB" for n in plan.sync_sizes)
    )
    rss.extra["after_configure_mb"] = Stat.of(configured).to_json()
    rss.extra["per_size_mb"] = {str(n): Stat.of(hwms[n]).to_json() for n in plan.sync_sizes}
    rows.append(rss)
    after = Row(
        "rss_after_sync",
        f"RSS right after syncing {largest:,} entries (VmRSS, not the peak)",
        "MB",
        Stat.of(after_sync),
    )
    # A key has been read by then: Sequoia is loaded.
    judge_above_floor(
        after, library_floor(bench, "floor-sync", LIBRARY_FLOOR + pysequoia_floor(key)), 40
    )
    rows.append(after)
    return rows


# ----------------------------------------------------------------------------- fan-out


def fan_out(bench: Bench) -> list[Row]:
    plan = bench.plan
    user = bench.new_user()
    key = keydata()
    walls: list[float] = []
    appends: list[int] = []
    with ImapProxy(bench.server.host, bench.server.port) as proxy, bench.hosts() as spawned:
        a, a_id = bench.device(spawned, user, "A", False, proxy.port)
        receivers = [
            bench.device(spawned, user, f"R{i}", False, None)[0] for i in range(plan.fanout_devices)
        ]
        for receiver in receivers:
            pair_by_sync(receiver, a, a_id)
        peers = [p for p in call(a, "sma.status")["muaas"] if p["paired"]]
        if len(peers) != plan.fanout_devices:
            raise RuntimeError(f"A is paired with {len(peers)} devices")
        for rep in range(plan.fanout_reps):
            entries = [
                entry(f"f{i:05}@example.net", 1_700_000_000 + rep, key)
                for i in range(plan.fanout_entries)
            ]
            proxy.reset()
            wall, put = timed_call(a, "keys.put", peers=entries)
            if put["stored"] != plan.fanout_entries or len(put["queued_to"]) != len(peers):
                raise RuntimeError(f"keys.put answered {put}")
            walls.append(wall)
            appends.append(proxy.commands().count("APPEND"))
    # One message per device for the whole batch, unless the batch is larger than one
    # key-update may carry: then one per KEY_UPDATE_MAX_BYTES of entries (docs §8),
    # counted here from the entries' size, not by the host's own splitting.
    from sma_host.protocol import codec
    from sma_host.protocol.keyring import entry_from_json
    from sma_host.service.outbox import KEY_UPDATE_MAX_BYTES

    batch = [
        entry_from_json(entry(f"f{i:05}@example.net", 1_700_000_000, key)).to_json()
        for i in range(plan.fanout_entries)
    ]
    batch_bytes = sum(len(codec.dumps(e)) + 1 for e in batch)
    messages = -(-batch_bytes // KEY_UPDATE_MAX_BYTES)
    expected = plan.fanout_devices * messages
    append_stat = Stat.of(appends)
    count = Row(
        "fanout_appends",
        f"fan-out: `keys.put` of {plan.fanout_entries:,} entries to {plan.fanout_devices}"
        " paired devices: APPENDs",
        "commands",
        append_stat,
        f"exactly {expected} ({plan.fanout_devices} × {messages})",
        holds=append_stat.min == append_stat.max == expected,
    )
    per_device = append_stat.median / plan.fanout_devices
    count.notes.append(
        f"{per_device:g} message(s) per device; keydata {plan.keydata_bytes} raw bytes per"
        f" entry, {batch_bytes / MB:.2f} MB of entries: the batch"
        f" needs {messages} key-update(s) of at most {KEY_UPDATE_MAX_BYTES / 1024 / 1024:g} MiB"
    )
    wall_row = Row(
        "fanout_wall",
        f"fan-out: `keys.put` of {plan.fanout_entries:,} entries to {plan.fanout_devices}"
        " paired devices: wall time",
        "s",
        Stat.of(walls),
        "≤ 1 s",
    )
    wall_row.holds = wall_row.value is not None and wall_row.value.median <= 1.0
    wall_row.notes.append("the call returns after the APPENDs (the host flushes its outbox inline)")
    return [count, wall_row]


# ------------------------------------------------------------------------------ memory


def memory(bench: Bench) -> list[Row]:
    """VmRSS of a host at rest: after `hello`, then after configure + join with push on
    (the watcher idling), as a user's host sits most of its life."""
    from devtools.memory_profile import smaps

    plan = bench.plan
    hello_mb: list[float] = []
    rest_mb: list[float] = []
    parts: list[tuple[str, int]] = []
    with ImapProxy(bench.server.host, bench.server.port) as proxy:
        for _ in range(plan.pairing_reps):
            user = bench.new_user()
            with bench.hosts() as spawned:
                host = bench.spawn("Rest", push=True)
                spawned.append(host)
                host.call("hello", {})
                hello_mb.append(peak_rss_kib(host.process.pid)[1] * 1024 / MB)
                proxy.reset()
                bench.configure(host, user, "Rest", proxy.port)
                call(host, "sma.join")
                proxy.wait_for(lambda c: "IDLE" in c, 10)
                settle(proxy, quiet=1.0)
                rest_mb.append(peak_rss_kib(host.process.pid)[1] * 1024 / MB)
                parts = smaps(host.process.pid)
    python_dir = bench.scratch / "python-rss-rest"
    python_dir.mkdir()
    with open(python_dir / "stderr.log", "ab") as stderr:
        python = [python_rss_kib(python_dir, stderr) * 1024 / MB for _ in range(3)]
    baseline = Stat.of(python)
    floor = library_floor(bench, "floor-rest", LIBRARY_FLOOR)
    hello = Row(
        "rss_hello",
        "RSS after `hello` (nothing IMAP or crypto imported)",
        "MB",
        Stat.of(hello_mb),
        baseline=baseline,
        baseline_label="`python3 -c pass`",
    )
    rest = Row(
        "rss_rest",
        "RSS at rest after configure + join (push on, watcher idling)",
        "MB",
        Stat.of(rest_mb),
    )
    judge_above_floor(rest, floor, 30)
    rest.notes.append(
        "VmRSS, MB = 10⁶ bytes; largest mappings (last run): "
        + ", ".join(f"{name} {kib * 1024 / MB:.1f}" for name, kib in parts)
        + "; per import: `python -m devtools.memory_profile`"
    )
    return [hello, rest]
