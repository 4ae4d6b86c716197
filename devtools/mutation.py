"""Mutation testing of the pure core (``make mutation``) with mutmut 2.x.

mutmut 2 (not 3) because it also mutates module-level constants: limits and labels.
It lives in its own venv (``build/mutation-venv``, made on demand) so ``make test``
does not carry it. Each module is mutated alone, in a copy of the tree
(``build/mutation/work/<module>``, so the worktree is never left mutated), against only
the fast pure tests that cover it; any non-zero pytest exit kills the mutant, and
Hypothesis runs derandomized without its example database (``devtools.mutation_profile``).

A module's result is cached in ``build/mutation/results/`` under a hash of the module,
its tests and the runner: a re-run only redoes modules whose inputs changed, and in those
only the mutants not killed before (mutmut's cache; ``--force`` starts afresh).

Prints the per-module table and writes ``docs/mutation.md``; survivors are matched
against ``devtools/mutation_equivalents.json`` (module, original line, mutated line,
reason), so the doc is regenerated, never hand-edited.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "mutation"
MUTATION_VENV = ROOT / "build" / "mutation-venv"
MUTMUT_REQUIREMENT = "mutmut>=2.4,<3"
EQUIVALENTS = ROOT / "devtools" / "mutation_equivalents.json"
DOC = ROOT / "docs" / "mutation.md"
TARGET = 90.0
#: Bump when a change to how mutmut is run must redo every cached module.
RUN_VERSION = "1"

_P = "tests/protocol/"
#: Module → the pure test files that cover it (files not yet written are skipped).
MODULES: dict[str, list[str]] = {
    "protocol/announce.py": [_P + "test_announce.py", _P + "test_vectors.py"],
    "protocol/autocrypt.py": [_P + "test_autocrypt.py"],
    "protocol/channel.py": [_P + "test_channel.py", _P + "test_vectors.py"],
    "protocol/codec.py": [_P + "test_codec.py"],
    "protocol/crypto.py": [_P + "test_crypto.py", _P + "test_vectors.py"],
    "protocol/envelope.py": [_P + "test_envelope.py", _P + "test_vectors.py"],
    "protocol/folders.py": [_P + "test_folders.py"],
    "protocol/keyring.py": [_P + "test_keyring.py"],
    "protocol/membership.py": [_P + "test_membership.py"],
    "protocol/paging.py": [_P + "test_paging.py"],
    "protocol/pairing.py": [
        _P + "test_pairing.py",
        _P + "test_pairing_core.py",
        _P + "test_vectors.py",
    ],
    "protocol/pairing_states.py": [_P + "test_pairing_states.py"],
    "protocol/uidset.py": [_P + "test_uidset.py"],
    "native/framing.py": ["tests/native/test_framing.py"],
    "native/jsonrpc.py": ["tests/native/test_jsonrpc.py"],
    "native/schemas.py": ["tests/native/test_schemas.py"],
    "native/workers.py": ["tests/native/test_workers.py"],
}
#: In the module list of the issue but without pure tests: it drives threads and stdio,
#: covered by tests/native/test_stdio_contract.py (real host processes), too slow to run
#: once per mutant.
NOT_MUTATED = {
    "native/stdio_loop.py": "threads and stdio; covered by real host processes only",
}


@dataclass
class Mutant:
    line_number: int
    original: str
    mutated: str
    status: str  # killed, survived, timeout, suspicious
    reason: str = ""  # why a survivor is equivalent; empty: not explained


@dataclass
class ModuleResult:
    module: str
    mutants: list[Mutant]
    seconds: float

    def count(self, status: str) -> int:
        return sum(1 for m in self.mutants if m.status == status)

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.status == "survived"]

    @property
    def equivalent(self) -> int:
        return sum(1 for m in self.survivors if m.reason)

    @property
    def killed(self) -> int:
        # A timeout or a suspiciously slow run is a mutant the tests did not pass with.
        return self.count("killed") + self.count("timeout") + self.count("suspicious")

    @property
    def score(self) -> float:
        relevant = len(self.mutants) - self.equivalent
        return 100.0 if relevant == 0 else 100.0 * self.killed / relevant


def ensure_mutmut() -> Path:
    mutmut = MUTATION_VENV / "bin" / "mutmut"
    if not mutmut.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MUTATION_VENV)], check=True)
        pip = [str(MUTATION_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, MUTMUT_REQUIREMENT], check=True)
    return mutmut


def _tests(module: str) -> list[str]:
    return [t for t in MODULES[module] if (ROOT / t).exists()]


def _cache_key(module: str) -> str:
    # The driver itself is left out (editing the report must not redo an hour of runs);
    # what decides a verdict is in: the module, its tests, the runner and its plugin.
    digest = hashlib.sha256(_runner(module).encode() + b"\0" + RUN_VERSION.encode())
    runner_files = [
        "devtools/mutation_profile.py",
        "devtools/mutation_server.py",
        "devtools/mutation_client.py",
    ]
    for name in [f"host/sma_host/{module}", *_tests(module), *runner_files]:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _pytest_args(module: str) -> list[str]:
    return [
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--noconftest",
        "-p",
        "devtools.mutation_profile",
        "--hypothesis-profile=mutation",
        # The fork server preloads Hypothesis, a pytest plugin pytest would otherwise rewrite.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *_tests(module),
    ]


def _runner(module: str) -> str:
    # Through the fork server: the client is a bare Python, the server has pytest loaded.
    client = f"{sys.executable} -S devtools/mutation_client.py {_SOCKET}"
    return " ".join([client, *_pytest_args(module)])


_SOCKET = ".mutation.sock"


def _slug(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def cached_result(module: str) -> ModuleResult | None:
    """The module's last result, if its module, tests and runner are unchanged since."""
    cached = BUILD / "results" / f"{_slug(module)}.json"
    if not cached.exists():
        return None
    data = json.loads(cached.read_text())
    if data["key"] != _cache_key(module):
        return None
    return ModuleResult(module, [Mutant(**m) for m in data["mutants"]], data["seconds"])


def run_module(module: str, mutmut: Path, *, force: bool) -> ModuleResult:
    cached = BUILD / "results" / f"{_slug(module)}.json"
    key = _cache_key(module)
    if not force and (result := cached_result(module)) is not None:
        return result
    work = BUILD / "work" / _slug(module)
    # mutmut's own cache is kept: a mutant once killed stays killed (tests are only ever
    # added), so a re-run after new tests redoes the survivors, not the whole module.
    mutmut_cache = BUILD / "work" / f"{_slug(module)}.mutmut-cache"
    if not force and (work / ".mutmut-cache").exists():
        shutil.move(work / ".mutmut-cache", mutmut_cache)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if not force and mutmut_cache.exists():
        shutil.move(mutmut_cache, work / ".mutmut-cache")
        with sqlite3.connect(work / ".mutmut-cache") as db:
            # Only a kill is kept; every other verdict is redone with the current tests.
            db.execute("UPDATE Mutant SET status = 'untested' WHERE status != 'ok_killed'")
            # mutmut 2 looks a cached verdict up by the line's text: a line repeated in the
            # module (``continue``, ``@property``) would take its first twin's kill and never
            # run. Those are redone, so each twin gets its own verdict.
            db.execute(
                "UPDATE Mutant SET status = 'untested' WHERE line IN (SELECT l.id FROM Line l"
                " JOIN Line twin ON twin.sourcefile = l.sourcefile AND twin.line = l.line"
                " AND twin.id != l.id)"
            )
    # A copy: mutmut edits the file in place, and the worktree must never be left mutated.
    for name in ("host/sma_host", "tests", "devtools", "docs"):  # docs: tables checked
        shutil.copytree(
            ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "e2e")
        )
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    # No bytecode: a .pyc keyed by mtime and size could outlive a same-sized mutant.
    pythonpath = f"{work / 'host'}{os.pathsep}{work}"
    env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "devtools.mutation_server", _SOCKET],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit(f"the mutation server did not start for {module}")
        server.stdout.close()
        done = _mutmut(module, mutmut, work, env)
    finally:
        server.kill()
        server.wait()
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed on {module}:\n{done.stdout}\n{done.stderr}")
    seconds = time.monotonic() - started
    mutants = _read_cache(work, mutmut, env)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(
        json.dumps({"key": key, "seconds": seconds, "mutants": [m.__dict__ for m in mutants]})
    )
    return ModuleResult(module, mutants, seconds)


_STATUS = {
    "ok_killed": "killed",
    "bad_survived": "survived",
    "bad_timeout": "timeout",
    "ok_suspicious": "suspicious",
}


def _mutmut(
    module: str, mutmut: Path, work: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    command = [
        str(mutmut),
        "run",
        "--paths-to-mutate",
        f"host/sma_host/{module}",
        "--tests-dir",
        "tests",
        "--runner",
        _runner(module),
        "--no-progress",
        "--simple-output",
        # Generous: the machine is shared; a real infinite loop still ends as a timeout.
        "--test-time-multiplier",
        "10",
        "--test-time-base",
        "30",
        "--CI",
    ]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)


def _read_cache(work: Path, mutmut: Path, env: dict[str, str]) -> list[Mutant]:
    with sqlite3.connect(work / ".mutmut-cache") as db:
        rows = db.execute(
            "SELECT m.id, m.status, l.line, l.line_number, f.filename FROM Mutant m"
            " JOIN Line l ON m.line = l.id JOIN SourceFile f ON l.sourcefile = f.id"
            " ORDER BY l.line_number, m.'index'"
        ).fetchall()
    mutants = []
    for mutant_id, status, line, line_number, filename in rows:
        if status == "untested":
            # mutmut tests every mutant of the current file; an untested row is one the
            # file no longer yields (its cache keeps rows of earlier runs), unless its line
            # is still there: then a mutant was left unjudged and the score would lie.
            current = (work / filename).read_text().splitlines()
            if line_number < len(current) and current[line_number] == line:
                raise SystemExit(f"mutant {mutant_id} ({filename}:{line_number + 1}) untested")
            continue
        if status not in _STATUS:
            raise SystemExit(f"mutant {mutant_id} left {status}")
        mutated = ""
        if status in ("bad_survived", "bad_timeout"):  # both are listed in the doc
            mutated = _mutated_line(work, mutmut, env, mutant_id)
        mutants.append(Mutant(line_number + 1, line.strip(), mutated, _STATUS[status]))
    return mutants


def _mutated_line(work: Path, mutmut: Path, env: dict[str, str], mutant_id: int) -> str:
    shown = subprocess.run(
        [str(mutmut), "show", str(mutant_id)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    added = [
        line[1:].strip()
        for line in shown.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " ⏎ ".join(added) or "(line removed)"


def load_equivalents() -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(EQUIVALENTS.read_text())
    return entries


def explain(results: list[ModuleResult], equivalents: list[dict[str, str]]) -> None:
    index = {(e["module"], e["original"], e["mutated"]): e["reason"] for e in equivalents}
    for result in results:
        for mutant in result.survivors:
            mutant.reason = index.get((result.module, mutant.original, mutant.mutated), "")


def table(results: list[ModuleResult]) -> list[str]:
    rows = [
        "| module | mutants | killed | survived | equivalent | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        survived = len(r.survivors)
        rows.append(
            f"| {r.module} | {len(r.mutants)} | {r.killed} | {survived} | {r.equivalent}"
            f" | {r.score:.1f}% |"
        )
    total = sum(len(r.mutants) for r in results)
    killed = sum(r.killed for r in results)
    survived = sum(len(r.survivors) for r in results)
    equivalent = sum(r.equivalent for r in results)
    score = 100.0 * killed / max(1, total - equivalent)
    rows.append(f"| **all** | {total} | {killed} | {survived} | {equivalent} | {score:.1f}% |")
    return rows


def write_doc(results: list[ModuleResult], not_run: list[str]) -> None:
    lines = [
        "# Mutation testing of the pure core",
        "",
        "Generated by `make mutation` (`devtools/mutation.py`, mutmut 2.x); do not edit by",
        "hand. Each module of `host/sma_host/` below is mutated alone and run against the fast",
        "pure tests that cover it (`MODULES` in the driver); any failing pytest run kills the",
        "mutant (a timeout counts as killed). The score leaves out the survivors explained as",
        "equivalent (`devtools/mutation_equivalents.json`): they change no behaviour.",
        f"The bar: {TARGET:.0f}% per module, and every mutant of a security check killed.",
        "",
        *table(results),
        "",
        *(
            [
                "Not run for this table (no current result: `make mutation MODULES=<module>`):",
                "",
                *[f"- `{m}`" for m in not_run],
                "",
            ]
            if not_run
            else []
        ),
        "Not mutated (no pure tests; covered by the contract tests with real host processes):",
        "",
        *[f"- `native/{name.split('/')[1]}`: {why}" for name, why in NOT_MUTATED.items()],
        "",
        "## Survivors",
        "",
    ]
    any_survivor = False
    for r in results:
        for m in r.survivors:
            any_survivor = True
            why = f"equivalent: {m.reason}" if m.reason else "**NOT EXPLAINED: a missing test**"
            lines.append(f"- `{r.module}:{m.line_number}` `{m.original}` → `{m.mutated}`: {why}")
    if not any_survivor:
        lines.append("None.")
    timeouts = [(r.module, m) for r in results for m in r.mutants if m.status == "timeout"]
    if timeouts:
        lines += [
            "",
            "## Timed out (counted as killed)",
            "",
            "mutmut gives a run ten times the unmutated run's time. A mutant that loops",
            "forever, or holds a test until that test's own wait gives up, ends here; so can",
            "any on a loaded machine: re-run such a module with `--force` on a quiet machine",
            "before trusting the verdict.",
            "",
            *[
                f"- `{module}:{m.line_number}` `{m.original}` → `{m.mutated}`"
                for module, m in timeouts
            ],
        ]
    DOC.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="e.g. protocol/codec.py (default: all)")
    parser.add_argument("--force", action="store_true", help="ignore the cached results")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/mutation.md")
    parser.add_argument("--jobs", type=int, default=1, help="modules run at the same time")
    parser.add_argument(
        "--doc-only",
        action="store_true",
        help="run nothing: the table and docs/mutation.md from the current cached results",
    )
    args = parser.parse_args(argv)
    if args.doc_only:
        found = {m: cached_result(m) for m in MODULES}
        done = [r for r in found.values() if r is not None]
        explain(done, load_equivalents())
        print("\n".join(table(done)))
        write_doc(done, [m for m, r in found.items() if r is None])
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {sorted(MODULES)}")
    mutmut = ensure_mutmut()

    def one(module: str) -> ModuleResult | None:
        try:
            result = run_module(module, mutmut, force=args.force)
        except SystemExit as exc:  # one module's failure must not cancel the others
            print(exc, file=sys.stderr, flush=True)
            return None
        print(f"{module}: {len(result.mutants)} mutants, {result.seconds:.0f} s", flush=True)
        return result

    # Each module has its own copy of the tree: modules can run side by side.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        ran = list(pool.map(one, args.modules or list(MODULES)))
    results = [r for r in ran if r is not None]
    if len(results) < len(ran):
        args.no_doc = True  # a partial table is not the doc
    explain(results, load_equivalents())
    print("\n".join(table(results)))
    for r in results:
        for m in r.survivors:
            if not m.reason:
                print(f"survivor {r.module}:{m.line_number}: {m.original!r} -> {m.mutated!r}")
    if not args.modules and not args.no_doc:
        write_doc(results, [])
    complete = len(results) == len(ran)
    return 0 if complete and all(r.score >= TARGET for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
