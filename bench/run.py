"""``make bench``: how fast the host is, against floors measured in the same run.

    python -m bench.run [--smoke] [--out bench/results/latest.json]

Starts its own Dovecot on loopback, measures every figure of ``bench/README.md``, prints
a Markdown table to stdout and writes the same numbers as JSON. Missed targets are shown
as ``NO`` and do not change the exit status; a measurement that breaks does (exit 1).
Everything it starts is stopped before it exits.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.connections import connections_at_rest
from bench.report import Row, failed_row, markdown
from bench.scan import mail_scan
from bench.shutdown import shutdown
from devtools.dovecot import DOVECOT_BINARY, DovecotServer, ImapUser, ensure_dovecot_installed

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"

Section = Callable[[scenarios.Bench], list[Row]]

#: In table order; the floors come first because later rows use them.
SECTIONS: list[tuple[str, Section, str, str]] = [
    ("floors", scenarios.floors, "floors (NOOP round trip, IDLE delay)", "—"),
    ("cold_start", scenarios.cold_start, "cold start: spawn → `hello` answered", "≤ 2.5×"),
    ("hello", scenarios.hello_rate, "`hello` round trips/s", "≥ 5,000/s"),
    ("join", scenarios.configure_join, "configure + join on a fresh account", "≤ 12 commands"),
    ("pairing", scenarios.pairing, "pairing end to end", "≤ 0.7 s"),
    ("push", scenarios.push_latency, "push latency", "≤ 0.8 s"),
    ("connections", connections_at_rest, "IMAP connections held after 60 s idle", "1/account"),
    ("sync", scenarios.sync_and_rss, "sync of N waiting key updates; peak RSS", "see README"),
    ("fanout", scenarios.fan_out, "fan-out of 1,000 entries to 10 devices", "10 APPENDs, ≤ 1 s"),
    ("memory", scenarios.memory, "RSS at rest after configure + join", "≤ 30 MB"),
    ("scan", mail_scan, "mail.scan of 10,000 INBOX messages, then of 10 new", "see README"),
    ("shutdown", shutdown, "exit after stdin closed, idle and with a hung call", "≤ 2 s"),
]
#: Shown in this order: the issue's table first, the floors last. Section names place
#: the row of a section that failed.
ROW_ORDER = [
    "cold_start",
    "hello",
    "hello_pipelined",
    "hello_sequential",
    "join",
    "join_wall",
    "join_commands",
    "pairing",
    "pairing_usable",
    "push",
    "push_latency",
    "connections",
    "connections_idle",
    "sync",
    "sync_N",
    "sync_commands",
    "fanout",
    "fanout_appends",
    "fanout_wall",
    "peak_rss",
    "rss_after_sync",
    "memory",
    "rss_hello",
    "rss_rest",
    "scan",
    "scan_first",
    "scan_first_commands",
    "scan_first_rss",
    "scan_new",
    "scan_new_commands",
    "shutdown",
    "exit_idle",
    "exit_hung",
    "floors",
    "floor_noop",
    "floor_idle",
]


def _order(row: Row) -> int:
    key = "sync_N" if row.key.startswith("sync_") and row.key[5:].isdigit() else row.key
    return ROW_ORDER.index(key) if key in ROW_ORDER else len(ROW_ORDER)


def _terminate(_signum: int, _frame: object) -> None:
    # Unwind through every ``finally``: hosts and Dovecot are stopped on the way out.
    raise KeyboardInterrupt


def _dovecot_version() -> str:
    try:
        done = subprocess.run(
            [DOVECOT_BINARY, "--version"], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()
    except OSError:
        return "unknown"


def measure(
    plan: scenarios.Plan, log: Callable[[str], None], only: set[str]
) -> tuple[list[Row], bool]:
    """Run every section; a section that fails becomes a failed row, the rest go on."""
    rows: list[Row] = []
    ok = True
    scratch = Path(tempfile.mkdtemp(prefix="sma-bench-"))
    try:
        with DovecotServer([ImapUser("bench0", "bench0-pw")]) as server:
            bench = scenarios.Bench(plan, server, scratch)
            try:
                for name, section, figure, target in SECTIONS:
                    if only and name not in only and name != "floors":
                        continue
                    started = time.monotonic()
                    log(f"bench: {name} …")
                    try:
                        rows += section(bench)
                    except Exception as exc:
                        ok = False
                        traceback.print_exc(file=sys.stderr)
                        rows.append(
                            failed_row(name, figure, target, f"{type(exc).__name__}: {exc}")
                        )
                    finally:
                        bench.close_all()
                    log(f"bench: {name} done in {time.monotonic() - started:.1f} s")
            finally:
                bench.close_all()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows.sort(key=_order)
    return rows, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="one repetition at tiny sizes (< 30 s)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help=f"JSON file to write (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated sections to run (the floors always run): "
        + ", ".join(name for name, *_ in SECTIONS[1:]),
    )
    args = parser.parse_args(argv)
    out: Path = args.out or DEFAULT_OUT
    missing = ensure_dovecot_installed()
    if missing:
        print(missing, file=sys.stderr)
        return 3
    key_bytes = len(base64.b64decode(scenarios.keydata()))
    plan = (scenarios.Plan.tiny if args.smoke else scenarios.Plan.full)(key_bytes)
    signal.signal(signal.SIGTERM, _terminate)
    # An installed host finds its modules compiled (pip compiles them at install time).
    # Where the environment forbids writing bytecode, every start would compile the host's
    # modules again and the cold start would measure the compiler: the processes the bench
    # starts may cache bytecode (in the ignored __pycache__ dirs).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started_at = datetime.datetime.now(datetime.UTC)
    started = time.monotonic()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - {name for name, *_ in SECTIONS}
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    rows, ok = measure(plan, log, only)
    total = time.monotonic() - started
    mode = "smoke" if plan.smoke else "full"
    print(f"## sma-host benchmark ({mode}, {os.cpu_count()} CPUs)\n")
    print(markdown(rows))
    print(f"\nTotal: {total:.1f} s")
    missed = [r.figure for r in rows if r.holds is False and r.error is None]
    if missed:
        print("Targets missed: " + "; ".join(missed))
    document: dict[str, Any] = {
        "bench": "sma-host",
        "mode": mode,
        "started_at": started_at.isoformat(timespec="seconds"),
        "total_s": total,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "dovecot": _dovecot_version(),
        },
        "plan": dataclasses.asdict(plan),
        "sections": sorted(only) if only else "all",
        "rows": [r.to_json() for r in rows],
        "ok": ok,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"bench: wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
