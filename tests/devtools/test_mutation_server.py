"""``make mutation``'s fork server and its client (mutmut's runner): a verdict is a kill
only when the tests failed. A client that mutmut killed (its timeout) must neither take
the server down nor leave its run holding it up, and a server that cannot be asked gives
no kill: each of these once made every later mutant of a module count as killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.mutation_client import NO_VERDICT

REPO = Path(__file__).resolve().parents[2]
WITHIN_S = 60.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A running server on a socket in ``tmp_path``, with three tests to run there."""
    tests = tmp_path / "cases"
    tests.mkdir()
    (tests / "test_passes.py").write_text("def test_it():\n    assert True\n")
    (tests / "test_fails.py").write_text("def test_it():\n    assert False\n")
    # Blocks on a FIFO nobody writes to: a run that never ends by itself.
    fifo = tmp_path / "release"
    os.mkfifo(fifo)
    (tests / "test_blocks.py").write_text(
        "import pathlib\n"
        "def test_it():\n"
        f"    pathlib.Path({str(tmp_path / 'started')!r}).touch()\n"
        f"    open({str(fifo)!r}).read()\n"
    )
    socket_path = tmp_path / "s"
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.mutation_server", str(socket_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        yield socket_path, tests
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def ask(socket_path: Path, test: Path, timeout: float | None = None) -> int:
    client = [sys.executable, "-S", "devtools/mutation_client.py", str(socket_path)]
    run = subprocess.run(
        [*client, "-q", "-p", "no:cacheprovider", str(test)], cwd=REPO, timeout=timeout
    )
    return run.returncode


def test_a_passing_run_survives_a_failing_one_kills(server: tuple[Path, Path]) -> None:
    socket_path, tests = server
    assert ask(socket_path, tests / "test_passes.py") == 0
    assert ask(socket_path, tests / "test_fails.py") == 1


def test_the_server_outlives_a_client_killed_mid_run(
    server: tuple[Path, Path], tmp_path: Path
) -> None:
    socket_path, tests = server
    client = [sys.executable, "-S", "devtools/mutation_client.py", str(socket_path)]
    blocked = subprocess.Popen(
        [*client, "-q", "-p", "no:cacheprovider", str(tests / "test_blocks.py")], cwd=REPO
    )
    deadline = time.monotonic() + WITHIN_S
    while not (tmp_path / "started").exists():  # the forked run is under way
        assert time.monotonic() < deadline and blocked.poll() is None
        time.sleep(0.05)
    blocked.kill()  # what mutmut does at its timeout
    blocked.wait()
    # The run would block for ever: the server ends it and answers the next ones.
    assert ask(socket_path, tests / "test_passes.py", timeout=WITHIN_S) == 0
    assert ask(socket_path, tests / "test_fails.py", timeout=WITHIN_S) == 1


def test_no_server_is_no_verdict_never_a_kill(tmp_path: Path) -> None:
    code = ask(tmp_path / "nobody-listens", tmp_path / "test_whatever.py")
    assert code == NO_VERDICT != 1
