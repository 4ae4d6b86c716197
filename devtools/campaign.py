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
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
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
from devtools import campaign_faults as faults
from devtools import campaign_membership as membership
from devtools import fuzz_sma, fuzz_stdio
from devtools.dovecot import DovecotServer, ImapUser
from devtools.host_process import DB_NAME, HostProcess, RpcError, integrity_check
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

    def judge(self, name: str, lost: set[str], doubled: int, weight: int = 1) -> None:
        """One case (``weight`` cases: frames or messages of one batch) judged."""
        self.tried += weight
        self.lost += len(lost)
        self.doubled += doubled
        if lost or doubled:
            self._failed(f"{name}: lost {sorted(lost)}, {doubled} applied twice")
        else:
            self.survived += weight

    def fail(self, name: str, why: str, weight: int = 1) -> None:
        """Cases that did not survive for another reason than loss (a crash, a hang…)."""
        self.tried += weight
        self._failed(f"{name}: {why}")

    def _failed(self, failure: str) -> None:
        self.failures.append(failure)
        print("  failed:", failure, file=sys.stderr, flush=True)  # as it happens


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
            check = integrity_check(pair.a.data_dir / DB_NAME)
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


def stdio_fuzz(bench: Bench, rng: random.Random, scale: int) -> Tally:
    """``20,000 × scale`` junk frames (``devtools.fuzz_stdio``) at a configured, joined
    host; then a real put must still work and the host exit cleanly."""
    tally = Tally()
    frames = 20_000 * scale if scale > 1 else 1_000
    user = bench.new_user()
    with bench.hosts() as spawned:
        host, _host_id = bench.device(spawned, user, "fuzz", False, None)
        result = fuzz_stdio.fuzz(host, frames, rng.randrange(2**32))
        try:
            call(host, "sma.join")  # a fuzzed frame may have left, validly
            call(host, "keys.put", peers=[entry("after-fuzz@example.net", 1, keydata())])
            if "after-fuzz@example.net" not in _addrs(host):
                result.failures.append("a real put after the fuzz was not stored")
        except (RpcError, TimeoutError) as exc:
            result.failures.append(f"a real call after the fuzz failed: {exc}")
        host.close_stdin()
        code = host.process.wait(10)
        if code != 0:
            result.failures.append(f"exit code {code} after stdin closed")
    name = (
        f"{result.frames} frames ({result.owed} owed a reply, {result.answered} answered,"
        f" slowest hello {result.slowest_hello_s * 1000:.0f} ms)"
    )
    STDIO_NOTES.append(name)
    if result.failures:
        tally.fail(name, "; ".join(result.failures), result.frames)
    else:
        tally.judge(name, set(), result.doubled, result.frames)
    return tally


#: What the stdio case measured (for the report): frames, replies, slowest hello.
STDIO_NOTES: list[str] = []


def _fetch_all(client: Any, folder: str) -> dict[int, bytes]:
    client.select_folder(folder, readonly=True)
    try:
        uids = client.search("ALL")
        fetched = client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
        return {uid: bytes(data[b"BODY[]"]) for uid, data in fetched.items()}
    finally:
        client.unselect_folder()


def _left_behind(raws: list[bytes], live: set[str]) -> int:
    """Messages in ``_Autocrypt_SMA`` the protocol says a heartbeat deletes (§13.1): no SMA
    message at all, or over the size limit. Other versions, v=1 messages that are no
    usable announcement and the live devices' announcements stay by design."""
    from sma_host.protocol import announce, envelope

    left = 0
    for raw in raws:
        try:
            envelope.parse_message(raw)
        except envelope.UnsupportedVersion:
            continue
        except envelope.MalformedMessage:
            left += 1
            continue
        if len(raw) > announce.MAX_MESSAGE_BYTES:
            left += 1
    return left


def sma_fuzz(bench: Bench, rng: random.Random, scale: int) -> Tally:
    """``2,000 × scale`` mutations of real messages (``devtools.fuzz_sma``), half into B's
    inbox, half into ``_Autocrypt_SMA``, in batches of 250, each followed by B's sync.
    Each batch survives when both hosts still answer, B's inbox is empty and no forged
    entry reached a keyring; at the end B's heartbeat (``sma.join``) leaves no deletable
    junk in ``_Autocrypt_SMA``, and a real update still arrives once (lost/doubled)."""
    tally = Tally()
    total = 2_000 * scale if scale > 1 else 100
    with paired(bench, a_via=True) as pair:
        b_id = call(pair.b, "sma.status")["self"]
        inbox = f"_Autocrypt_SMA_{b_id}"
        pair.put("fuzz-seed@example.net")
        client = bench.direct_client(pair.user)
        try:
            originals = list(_fetch_all(client, inbox).values())
            originals += list(_fetch_all(client, "_Autocrypt_SMA").values())
            pair.settle(Tally(), "seed")
            sent = 0
            while sent < total:
                batch = size = min(250, total - sent)
                for i in range(size):
                    raw = fuzz_sma.mutate(rng, originals).replace(b"\0", b"0")
                    folder = inbox if (sent + i) % 2 == 0 else "_Autocrypt_SMA"
                    try:
                        client.append(folder, raw, flags=())
                    except Exception:  # the server refused that one: nothing to judge
                        size -= 1
                sent += batch
                name = f"mutated SMA messages {sent - batch}..{sent}"
                errors: list[str] = []
                for _attempt in range(5):  # a sync may fail (the stall bound is 3 s): again
                    try:
                        pair.sync_b()
                        call(pair.a, "sma.sync")
                        call(pair.b, "sma.status")
                        break
                    except (RpcError, TimeoutError) as exc:
                        errors.append(str(exc))
                else:
                    tally.fail(name, f"the calls kept failing: {errors}", size)
                    continue
                waiting = len(_fetch_all(client, inbox))
                forged = pair.b_addrs() - pair.expected
                if waiting or forged:
                    tally.fail(name, f"{waiting} left in the inbox, forged {sorted(forged)}", size)
                else:
                    tally.judge(name, set(), 0, size)
            for _attempt in range(5):  # the heartbeat: deletes the junk it may delete;
                try:  # thousands of deletions may outlast the 3 s stall bound: again
                    call(pair.b, "sma.join")
                    break
                except RpcError:
                    pass
            left = _left_behind(list(_fetch_all(client, "_Autocrypt_SMA").values()), set())
            if left:
                tally.failures.append(f"{left} deletable messages left in _Autocrypt_SMA")
        finally:
            client.logout()
        pair.put("after-sma-fuzz@example.net")
        pair.settle(tally, "a real update after the fuzz")
    return tally


def _membership_cuts(op_name: str) -> Callable[[Bench, random.Random, int], Tally]:
    """Cuts at every command boundary of one membership operation, A's push on and off
    (``make fuzz``); the short round tries one seeded boundary, push off."""

    def case(bench: Bench, rng: random.Random, scale: int) -> Tally:
        tally = Tally()
        op = membership.OPERATIONS[op_name]
        with ImapProxy(bench.server.host, bench.server.port) as proxy:
            for push in (False, True) if scale > 1 else (False,):
                count = membership.boundaries(bench, proxy, op, push)
                cases = [(k, mode) for k in range(1, count + 1) for mode in MODES]
                if scale == 1:
                    cases = [rng.choice(cases)]
                for k, mode in cases:
                    on = "on" if push else "off"
                    name = f"cut {op_name} at command {k}/{count} {mode}, push {on}"
                    try:
                        lost, doubled = membership.cut_case(bench, proxy, op, push, k, mode)
                    except (RpcError, TimeoutError) as exc:
                        tally.fail(name, f"setup or check failed: {exc}")
                        continue
                    tally.judge(name, lost, doubled)
        return tally

    return case


def membership_kills(bench: Bench, rng: random.Random, scale: int) -> Tally:
    """``kill -9`` of A at a seeded moment during pairing (both sides), join and leave
    (``12 × scale`` in all; push alternating); ``integrity_check`` after each."""
    tally = Tally()
    names = ["join", "pair (A requests)", "pair (A accepts)", "sma.leave"]
    kills = 12 * scale if scale > 1 else 2
    with ImapProxy(bench.server.host, bench.server.port) as proxy:
        for index in range(kills):
            op_name = names[index % len(names)]
            push = (index // len(names)) % 2 == 1
            name = f"kill -9 during {op_name} {index}, push {'on' if push else 'off'}"
            try:
                lost, doubled, check = membership.kill_case(
                    bench, proxy, membership.OPERATIONS[op_name], push, rng
                )
            except (RpcError, TimeoutError) as exc:
                tally.fail(name, f"setup or check failed: {exc}")
                continue
            if check != "ok":
                tally.fail(name, f"integrity_check says {check}")
                continue
            tally.judge(name, lost, doubled)
    return tally


def _faults(
    run_rounds: Callable[[Bench, random.Random, int, Tally], None], root: bool
) -> Callable[[Bench, random.Random, int], Tally]:
    """A case of ``devtools.campaign_faults``; the mounts need root (else it fails)."""

    def case(bench: Bench, rng: random.Random, scale: int) -> Tally:
        tally = Tally()
        if root and not faults.is_root():
            tally.fail("mounts", "needs root (tmpfs and bind mounts)")
            return tally
        run_rounds(bench, rng, scale, tally)
        return tally

    return case


CASES: dict[str, Callable[[Bench, random.Random, int], Tally]] = {
    "stdio fuzzing: junk and mutated frames (frames)": stdio_fuzz,
    "SMA message fuzzing: mutated real messages in inbox and announcements (messages)": sma_fuzz,
    "cut at every command boundary of keys.put": cut_put,
    "cut at every command boundary of sma.sync": cut_sync,
    "kill -9 during keys.put (integrity_check)": kill_put,
    "full disk under the data dir (tmpfs): storage_failed, integrity_check, recovery": _faults(
        faults.full_disk, root=True
    ),
    "read-only database: storage_failed, nothing lost, recovery": _faults(
        faults.read_only, root=True
    ),
    "TLS handshake answered with garbage, cut midway, stalled; recovery": _faults(
        faults.tls_faults, root=False
    ),
    "STARTTLS stripped from the capabilities: refused, no LOGIN in the clear": _faults(
        faults.stripped_starttls, root=False
    ),
    "Dovecot restart during a stream of puts, push on": restart_push,
    "stalled server during keys.put": stall_put,
    "slow link (10 ms per byte) during keys.put and sync": slow_link,
    "kill -9 during join, pairing (both sides) and leave (integrity_check)": membership_kills,
    **{
        f"cut at every command boundary of {op}, push on and off": _membership_cuts(op)
        for op in membership.OPERATIONS
    },
}


#: Cases only ``make fuzz`` runs: ``make test`` has them as targeted tests in
#: tests/reliability (test_membership_cuts, test_storage, test_tls_faults), cheaper there.
LONG_ONLY = frozenset(
    [f"cut at every command boundary of {op}, push on and off" for op in membership.OPERATIONS]
    + [name for name in CASES if name.startswith(("kill -9 during join", "full", "read-only"))]
    + [name for name in CASES if name.startswith(("TLS", "STARTTLS"))]
)


def run(seed: int, scale: int, budget_s: float, only: Collection[str] = ()) -> dict[str, Tally]:
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
                if only and not any(word in name for word in only):
                    continue
                if scale == 1 and name in LONG_ONLY:
                    continue
                amount = scale * 10 if case is kill_put else scale
                print(f"{time.monotonic() - started:6.0f} s: {name}", file=sys.stderr, flush=True)
                try:
                    results[name] = case(bench, rng, amount)
                except Exception as exc:  # a case that breaks is a failed case, not the end
                    broken = Tally()
                    broken.fail(name, f"the case broke: {type(exc).__name__}: {exc}")
                    results[name] = broken
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
    parser.add_argument(
        "--only", action="append", default=[], help="run the cases whose name has this word"
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds after which no case starts"
    )
    args = parser.parse_args(argv)
    scale, budget = (5, 1800.0) if args.long else (1, 120.0)
    if args.budget is not None:
        budget = args.budget
    started = time.monotonic()
    results = run(args.seed, scale, budget, args.only)
    summary = table(results)
    print(summary)
    failures = [f for t in results.values() for f in t.failures]
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    if args.out is not None:
        command = "python -m devtools.campaign " + " ".join(argv or sys.argv[1:])
        skipped = [n for n in CASES if n not in results and not args.only]
        if not args.long:
            skipped = [n for n in skipped if n not in LONG_ONLY]
        args.out.write_text(
            _report(summary, args.seed, time.monotonic() - started, failures, command, skipped)
        )
    return 1 if failures else 0


def _report(
    summary: str, seed: int, seconds: float, failures: list[str], command: str, skipped: list[str]
) -> str:
    notes = "".join(f"- {note}\n" for note in STDIO_NOTES)
    return (
        "# Reliability: the fault campaign's last summary\n\n"
        f"Written by `{command}`; the cases and how they are judged are in"
        " `devtools/campaign.py`, `campaign_membership.py` (join, pair, remove, leave,"
        " expire), `campaign_faults.py` (disk, database, TLS), `fuzz_stdio.py` and"
        " `fuzz_sma.py`. `make test` runs a short round of the fuzzing, keys.put, sync,"
        " stall and restart cases (tests/reliability/test_campaign.py); the membership cuts"
        " and kills, the full disk, the read-only database and the TLS faults run only here,"
        " and have targeted tests in tests/reliability (test_membership_cuts.py,"
        " test_storage.py, test_tls_faults.py).\n\n"
        "Counting: *tried* and *survived* count cases (for the fuzzing rows: frames and"
        " messages); *lost* counts entries or end states that never came (an acknowledged"
        " put, a pairing, an erased device…), *doubled* what was applied or exists twice.\n\n"
        f"Seed {seed}, {seconds:.0f} s on {_cpus()} cores (a machine shared with other"
        " work, `nice -n 10`).\n\n"
        f"{summary}\n\n"
        + (f"stdio fuzzing:\n\n{notes}\n" if notes else "")
        + ("Not run (time budget): " + ", ".join(skipped) + ".\n\n" if skipped else "")
        + ("Failures:\n\n" + "\n".join(f"- {f}" for f in failures) + "\n" if failures else "")
    )


def _cpus() -> int:
    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
