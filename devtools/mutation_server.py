"""A fork server for ``make mutation``'s test runs: most of a pure test run is starting
Python and importing pytest, Hypothesis and ``cryptography``. The server imports those
once; each run (one per mutant) is a forked child that imports ``sma_host`` fresh from the
mutated tree and runs ``pytest.main``. ``devtools/mutation_client.py`` is mutmut's runner.

The server never imports ``sma_host``: a child must see the mutant, not a cached module.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
import time

#: Imported before forking; all third-party, none of them the code under test.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "hypothesis",
    "hypothesis.strategies",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.asymmetric.x25519",
    "cryptography.hazmat.primitives.ciphers.aead",
    "cryptography.hazmat.primitives.kdf.hkdf",
    "spake2",
    "pysequoia",
    "email.parser",
)
#: A child that runs longer is an infinite loop: killed, and the mutant with it.
CHILD_TIMEOUT_S = 300


def serve(path: str) -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    import pytest

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        print("ready", flush=True)
        # The children's pytest output is not read by anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        while True:
            conn, _ = server.accept()
            with conn:
                args = json.loads(conn.makefile().readline())
                if args == "stop":
                    return
                pid = os.fork()
                if pid == 0:
                    conn.close()
                    server.close()
                    code = pytest.main(args)
                    sys.stdout.flush()
                    os._exit(int(code))
                code = _wait(pid, conn)
                try:
                    conn.sendall(f"{code}\n".encode())
                except OSError:
                    # mutmut gave up on this run (its timeout) and killed the client: the
                    # next mutants still need a server, or each would fail to connect.
                    pass


def _wait(pid: int, conn: socket.socket) -> int:
    """The child's exit code; it is killed when it outlives ``CHILD_TIMEOUT_S`` or its
    client (mutmut's timeout killed it): a run left going would hold up every later
    mutant's run, which would time out in turn and count as killed."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline or _gone(conn):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return 124
        time.sleep(0.02)


def _gone(conn: socket.socket) -> bool:
    """The client closed its end (it sends nothing more while it waits)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


if __name__ == "__main__":
    serve(sys.argv[1])
