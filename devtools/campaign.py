"""The fault campaign: real hosts on a real Dovecot, faults from ``devtools.imap_proxy``
and ``kill -9``; every case must end converged with nothing lost and nothing applied twice.

``make test`` runs a short seeded round (tests/reliability/test_campaign.py); ``make fuzz``
runs ``python -m devtools.campaign --long``, prints the summary table and writes it to
``docs/reliability.md``. Cases:

- ``cut keys.put``: A's connection is cut at each command boundary of a ``keys.put``
  (before and after the server's reply); A then syncs, B syncs until it has the entry.
- ``cut sync``: B's connection is cut at each command boundary of a sync that applies one
  waiting key update; B syncs again until done.
- ``kill -9 keys.put``: A is killed at a seeded random moment after sending a put and
  started again on the same data dir; ``PRAGMA integrity_check`` must say ok, and an
  acknowledged put must arrive.
- ``stall``: A's connection goes silent before a put; ``slow link``: the server's bytes
  reach A 10 ms apart during a put and the syncs that follow.
- ``restart``: push on both sides, Dovecot killed and started again on the same ports
  during a stream of puts (one per 0.5 s); nobody syncs by hand. Lost: an entry B lacks
  75 s after the last put; doubled: an address B announced in two ``keys.changed``.

Counting: B's push is off, so every message is applied by an ``sma.sync`` whose summary
says so. A case *loses* when B lacks an entry it must have, and *doubles* when B's syncs
processed more key updates than A sent.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

from bench.scenarios import (
    ACCOUNT,
    Bench,
    Plan,
    call,
    entry,
    keydata,
    pair_by_push,
    pair_by_sync,
)
from devtools.dovecot import DovecotServer, ImapUser
from devtools.host_process import HostProcess, RpcError
from devtools.imap_proxy import ImapProxy

MODES = ("before_reply", "after_reply")
#: ``SMA_HOST_STALL_S`` of every host the campaign starts (the default 30 s would make the
#: stall case slow); loopback answers in milliseconds, so it is no false alarm.
STALL_S = "3"
REPORT = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


@dataclass
class Tally:
    tried: int = 0
    survived: int = 0
    lost: int = 0
    doubled: int = 0
    failures: list[str] = field(default_factory=list)

    def judge(self, name: str, lost: set[str], doubled: int) -> None:
        self.tried += 1
        self.lost += len(lost)
        self.doubled += doubled
        if lost or doubled:
            self.failures.append(f"{name}: lost {sorted(lost)}, {doubled} applied twice")
        else:
            self.survived += 1


@dataclass
class Pair:
    """A (sender, through the proxy) and B (receiver, direct), paired, push off."""

    bench: Bench
    proxy: ImapProxy
    user: ImapUser
    a: HostProcess
    b: HostProcess
    sent: int = 0  # key updates A sent B (one per changing put)
    processed: int = 0  # key updates B's syncs applied
    expected: set[str] = field(default_factory=set)

    def put(self, addr: str) -> dict[str, Any]:
        self.sent += 1
        self.expected.add(addr)
        result: dict[str, Any] = call(
            self.a, "keys.put", peers=[entry(addr, 1 + self.sent, keydata())]
        )
        return result

    def sync_b(self) -> None:
        self.processed += call(self.b, "sma.sync")["processed"]

    def b_addrs(self) -> set[str]:
        page = call(self.b, "keys.list")
        return {e["addr"] for e in page["peers"]}

    def settle(self, tally: Tally, name: str, timeout: float = 20.0) -> None:
        """Let A send and B apply until B has everything (or the timeout); then judge."""
        deadline = time.monotonic() + timeout
        while True:
            self.proxy.disarm()  # a cut that did not fire must not hit the next case
            for step in (lambda: call(self.a, "sma.sync"), self.sync_b):
                try:
                    step()
                except RpcError:
                    pass  # a cut may fail a call: the next round retries
            if self.expected <= self.b_addrs() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        tally.judge(name, self.expected - self.b_addrs(), max(0, self.processed - self.sent))


@contextmanager
def paired(bench: Bench, a_via: bool) -> Iterator[Pair]:
    """A fresh account with A and B paired; the proxy carries A's IMAP (``a_via``) or B's."""
    user = bench.new_user()
    with ImapProxy(bench.server.host, bench.server.port) as proxy, bench.hosts() as spawned:
        a, a_id = bench.device(spawned, user, "a", False, proxy.port if a_via else None)
        b, _b_id = bench.device(spawned, user, "b", False, None if a_via else proxy.port)
        pair_by_sync(b, a, a_id)
        call(b, "sma.sync")
        yield Pair(bench, proxy, user, a, b)


def boundaries(proxy: ImapProxy, action: Callable[[], object]) -> int:
    """How many commands ``action`` sends through the proxy when nothing goes wrong."""
    proxy.reset()
    action()
    return len(proxy.commands())


def cut_put(bench: Bench, rng: random.Random, rounds: int) -> Tally:
    tally = Tally()
    with paired(bench, a_via=True) as pair:
        count = boundaries(pair.proxy, lambda: pair.put("probe@example.net"))
        pair.settle(Tally(), "probe")
        cases = [(k, mode) for k in range(1, count + 1) for mode in MODES] * rounds
        rng.shuffle(cases)
        for index, (k, mode) in enumerate(cases):
            cut = pair.proxy.cut_at("*", k, mode)
            pair.put(f"cut-put-{index}@example.net")
            cut.replied.wait(2)
            pair.settle(tally, f"cut keys.put at command {k} {mode}")
    return tally


def cut_sync(bench: Bench, rng: random.Random, rounds: int) -> Tally:
    tally = Tally()
    with paired(bench, a_via=False) as pair:
        pair.put("probe@example.net")
        count = boundaries(pair.proxy, pair.sync_b)
        pair.settle(Tally(), "probe")
        cases = [(k, mode) for k in range(1, count + 1) for mode in MODES] * rounds
        rng.shuffle(cases)
        for index, (k, mode) in enumerate(cases):
            pair.put(f"cut-sync-{index}@example.net")
            pair.proxy.cut_at("*", k, mode)
            try:
                pair.sync_b()
            except RpcError:
                pass  # the cut failed the call; settle's syncs finish the job
            pair.settle(tally, f"cut sync at command {k} {mode}")
    return tally


def stall_put(bench: Bench, rng: random.Random, rounds: int) -> Tally:
    """A's connection goes silent (``stall_all``) before each put: the put's APPEND waits
    one stall bound (``STALL_S``), then a fresh connection sends it."""
    tally = Tally()
    with paired(bench, a_via=True) as pair:
        for index in range(rounds * 2):
            pair.proxy.stall_all()
            pair.put(f"stall-{index}@example.net")
            pair.settle(tally, f"stalled server during keys.put {index}")
    return tally


def slow_link(bench: Bench, rng: random.Random, rounds: int) -> Tally:
    """The server's bytes reach A one at a time, 10 ms apart, for a put and a sync."""
    tally = Tally()
    with paired(bench, a_via=True) as pair:
        for index in range(rounds):
            pair.proxy.slow_s = 0.01
            try:
                pair.put(f"slow-{index}@example.net")
                pair.settle(tally, f"slow link during keys.put and sync {index}", timeout=60)
            finally:
                pair.proxy.slow_s = 0.0
    return tally


def integrity(host: HostProcess) -> str:
    db = sqlite3.connect(host.data_dir / "sma-host.sqlite3")
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def kill_put(bench: Bench, rng: random.Random, kills: int) -> Tally:
    tally = Tally()
    with paired(bench, a_via=True) as pair:
        for index in range(kills):
            addr = f"kill-{index}@example.net"
            pair.sent += 1
            request = {
                "jsonrpc": "2.0",
                "id": f"put-{index}",
                "method": "keys.put",
                "params": {"account": ACCOUNT, "peers": [entry(addr, 1 + pair.sent, keydata())]},
            }
            pair.a.send(request)
            time.sleep(rng.uniform(0.0, 0.05))
            acknowledged = f"put-{index}" in pair.a.responses
            pair.a.kill()
            pair.a.process.wait(10)
            pair.a.close()
            if acknowledged:
                pair.expected.add(addr)
            check = integrity(pair.a)
            pair.a = bench.spawn("a", False, data_dir=pair.a.data_dir)
            bench.configure(pair.a, pair.user, "a", pair.proxy.port)
            if check != "ok":
                tally.failures.append(f"kill -9 {index}: integrity_check says {check}")
            if not acknowledged and addr in _addrs(pair.a):
                pair.expected.add(addr)  # committed before the kill: it must arrive too
            elif not acknowledged:
                pair.sent -= 1  # never committed: nothing to send
            pair.settle(tally, f"kill -9 during keys.put {index}")
    return tally


def _addrs(host: HostProcess) -> set[str]:
    return {e["addr"] for e in call(host, "keys.list")["peers"]}


def restart_push(bench: Bench, rng: random.Random, rounds: int) -> Tally:
    """Push on both sides; Dovecot killed and started again (same ports, same mail) during
    a stream of puts, one per 0.5 s, at a seeded moment; nobody calls ``sma.sync``."""
    tally = Tally()
    for round_ in range(rounds):
        user = bench.new_user()
        with bench.hosts() as spawned:
            a, a_id = bench.device(spawned, user, "a", True, None)
            b, _b_id = bench.device(spawned, user, "b", True, None)
            pair_by_push(b, a, a_id)
            down_at = rng.randrange(2, 8)
            up_at = down_at + rng.randrange(2, 6)
            put: set[str] = set()
            for i in range(20):
                if i == down_at:
                    bench.server.down()
                if i == up_at:
                    bench.server.up()
                addr = f"r{round_}-{i}@example.net"
                call(a, "keys.put", peers=[entry(addr, 1 + i, keydata())])
                put.add(addr)
                time.sleep(0.5)
            if not bench.server.running:
                bench.server.up()
            deadline = time.monotonic() + 75  # the retry cap (60 s) and a margin
            while _addrs(b) != put and time.monotonic() < deadline:
                time.sleep(0.2)
            changes = [f["params"]["addrs"] for f in b.frames if f.get("method") == "keys.changed"]
            named = [addr for addrs in changes for addr in addrs]
            tally.judge(f"restart {round_}", put - _addrs(b), len(named) - len(set(named)))
    return tally


CASES: dict[str, Callable[[Bench, random.Random, int], Tally]] = {
    "cut at every command boundary of keys.put": cut_put,
    "cut at every command boundary of sma.sync": cut_sync,
    "kill -9 during keys.put (integrity_check)": kill_put,
    "Dovecot restart during a stream of puts, push on": restart_push,
    "stalled server during keys.put": stall_put,
    "slow link (10 ms per byte) during keys.put and sync": slow_link,
}


def run(seed: int, scale: int, budget_s: float) -> dict[str, Tally]:
    """Each case once at ``scale`` (rounds of cuts; ×10 kills), stopping at the budget."""
    rng = random.Random(seed)
    results: dict[str, Tally] = {}
    started = time.monotonic()
    with (
        patch.dict(os.environ, {"SMA_HOST_STALL_S": STALL_S}),  # hosts inherit it
        DovecotServer([]) as server,
        tempfile.TemporaryDirectory(prefix="sma-fuzz-") as tmp,
    ):
        bench = Bench(Plan.tiny(448), server, Path(tmp))
        try:
            for name, case in CASES.items():
                if time.monotonic() - started > budget_s:
                    break
                amount = scale * 10 if case is kill_put else scale
                results[name] = case(bench, rng, amount)
        finally:
            bench.close_all()
    return results


def table(results: dict[str, Tally]) -> str:
    lines = ["| case | tried | survived | lost | doubled |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, t in results.items():
        lines.append(f"| {name} | {t.tried} | {t.survived} | {t.lost} | {t.doubled} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--long", action="store_true", help="make fuzz: more rounds and kills")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    scale, budget = (5, 1800.0) if args.long else (1, 120.0)
    started = time.monotonic()
    results = run(args.seed, scale, budget)
    summary = table(results)
    print(summary)
    failures = [f for t in results.values() for f in t.failures]
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    if args.out is not None:
        args.out.write_text(_report(summary, args.seed, time.monotonic() - started, failures))
    return 1 if failures else 0


def _report(summary: str, seed: int, seconds: float, failures: list[str]) -> str:
    return (
        "# Reliability: the fault campaign's last summary\n\n"
        "Written by `make fuzz` (`python -m devtools.campaign --long --out"
        " docs/reliability.md`); the cases and how they are judged are in"
        " `devtools/campaign.py`. `make test` runs a short round of the same cases"
        " (tests/reliability/test_campaign.py), and tests/reliability/ also restarts"
        " Dovecot under a stream of puts and stalls a connection.\n\n"
        f"Seed {seed}, {seconds:.0f} s on {_cpus()} cores.\n\n{summary}\n\n"
        + ("Failures:\n\n" + "\n".join(f"- {f}" for f in failures) if failures else "")
    )


def _cpus() -> int:
    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
