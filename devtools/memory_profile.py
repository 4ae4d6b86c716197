"""What the host's resident memory is made of: RSS per import, per state of the host.

``python -m devtools.memory_profile`` imports, in a fresh interpreter, what each state of
the host needs, in the order the host needs it, and prints for each step the growth of
``VmRSS``, of the Python heap (``tracemalloc``) and the top-level packages it brought in.
``smaps(pid)`` splits a running process's RSS by mapping (the bench's memory row uses it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from typing import Any

#: (state, what it imports): the order in which a host meets them.
STEPS: tuple[tuple[str, str], ...] = (
    ("hello answered", "sma_host.native.stdio_loop"),
    ("first account call (store, IMAP, channel crypto)", "sma_host.service"),
    ("a method's params validated (jsonschema)", "jsonschema"),
    ("pairing (SPAKE2)", "spake2"),
    ("an OpenPGP key checked (Sequoia)", "pysequoia"),
)

_CHILD = """
import importlib, json, sys, tracemalloc
tracemalloc.start()
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
rows = [{"state": "python started", "rss_kib": rss(), "heap": 0, "new": []}]
for state, module in json.loads(sys.argv[1]):
    before = {m.partition(".")[0] for m in sys.modules}
    importlib.import_module(module)
    new = sorted({m.partition(".")[0] for m in sys.modules} - before)
    rows.append({"state": state, "rss_kib": rss(), "heap": tracemalloc.get_traced_memory()[0],
                 "new": new})
groups = {}
for stat in tracemalloc.take_snapshot().statistics("filename"):
    path = stat.traceback[0].filename
    if "site-packages/" in path:
        name = path.split("site-packages/", 1)[1].split("/", 1)[0]
    elif "/sma_host/" in path:
        name = "sma_host"
    elif "/lib/python" in path:
        name = "stdlib: " + path.split("/lib/python", 1)[1].split("/", 2)[1]
    else:
        name = path
    groups[name] = groups.get(name, 0) + stat.size
print(json.dumps({"rows": rows, "heap_by_package": sorted(groups.items(), key=lambda g: -g[1])}))
"""


def import_steps() -> dict[str, Any]:
    """``rows``: each step's cumulative VmRSS (KiB; tracemalloc's own bookkeeping
    included), traced Python heap (bytes), new packages; ``heap_by_package``: the Python
    heap after every step, by package (bytes)."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(STEPS)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, Any] = json.loads(out)
    return found


def smaps(pid: int, top: int = 8) -> list[tuple[str, int]]:
    """The largest parts of a process's RSS (KiB) by mapping: a shared library's name,
    ``[heap]``, or ``anon`` (Python's arenas and thread stacks)."""
    sizes: Counter[str] = Counter()
    name = "anon"
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            first = line.split(maxsplit=6)
            if first and "-" in first[0] and len(first) >= 5 and ":" in first[3]:
                path = first[5].strip() if len(first) > 5 else ""
                name = path.rsplit("/", 1)[-1] if path.startswith("/") else (path or "anon")
            elif line.startswith("Rss:"):
                sizes[name] += int(line.split()[1])
    return sizes.most_common(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, help="also split this running process's RSS")
    args = parser.parse_args()
    found = import_steps()
    rows = found["rows"]
    print("| state | VmRSS | + | Python heap | packages brought in |")
    print("| --- | --- | --- | --- | --- |")
    previous = None
    for row in rows:
        rss = int(str(row["rss_kib"]))
        delta = "" if previous is None else f"+{(rss - previous) / 1024:.1f} MiB"
        heap = int(str(row["heap"])) / 2**20
        new = row["new"]
        assert isinstance(new, list)
        shown = ", ".join(n for n in new if not n.startswith("_"))[:120]
        print(f"| {row['state']} | {rss / 1024:.1f} MiB | {delta} | {heap:.1f} MiB | {shown} |")
        previous = rss
    print()
    print("Python heap after every step, by package (tracemalloc):")
    for name, size in found["heap_by_package"][:15]:
        print(f"{size / 2**20:7.2f} MiB  {name}")
    if args.pid:
        print()
        for name, kib in smaps(args.pid, 15):
            print(f"{kib / 1024:7.1f} MiB  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
