"""Shutdown: how long the host takes to exit once Thunderbird closes its stdin.

The contract is exit 0 within 2 s (Thunderbird sends SIGTERM at 3 s), also while a call
hangs on a server that went silent: the host gives itself 1.5 s in all, calls first and
then connections (``native/stdio_loop.py``). The tests check that nothing waits for the
hang; this is the figure. The silent server is a loopback socket that accepts and never
answers, so the hung call is an ``account.configure`` stuck in its TLS handshake.
"""

from __future__ import annotations

import socket
import threading
import time

from bench.report import Row, Stat
from bench.scenarios import ACCOUNT, Bench
from devtools.host_process import HostProcess

#: The contract's bound (seconds).
EXIT_WITHIN_S = 2.0
WAIT_S = 30.0


class SilentServer:
    """Accepts connections on loopback and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.accepted = threading.Semaphore(0)
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="silent-server").start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)
            self.accepted.release()

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


def _exit_seconds(host: HostProcess) -> float:
    started = time.monotonic()
    host.close_stdin()
    code = host.process.wait(WAIT_S)
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(f"the host exited {code}")
    return seconds


def shutdown(bench: Bench) -> list[Row]:
    repetitions = 2 if bench.plan.smoke else 7
    silent = SilentServer()
    idle: list[float] = []
    hung: list[float] = []
    try:
        for i in range(repetitions):
            with bench.hosts() as spawned:
                host = bench.spawn(f"exit-idle-{i}", push=False)
                spawned.append(host)
                bench.configure(host, bench.new_user(), f"Exit {i}")
                host.call("sma.join", {"account": ACCOUNT}, timeout=WAIT_S)
                idle.append(_exit_seconds(host))

                host = bench.spawn(f"exit-hung-{i}", push=False)
                spawned.append(host)
                host.send(
                    {
                        "jsonrpc": "2.0",
                        "id": "hung",
                        "method": "account.configure",
                        "params": {
                            "account": ACCOUNT,
                            "email": "hung@example.org",
                            "device_name": "Hung",
                            "imap": {
                                "host": "127.0.0.1",
                                "port": silent.port,
                                "security": "tls",
                                "username": "hung",
                                "password": "hung-pw",
                            },
                        },
                    }
                )
                if not silent.accepted.acquire(timeout=WAIT_S):
                    raise RuntimeError("the host never connected to the silent server")
                hung.append(_exit_seconds(host))
    finally:
        silent.close()
    return [
        Row(
            "exit_idle",
            "exit after stdin closed (after configure + join)",
            "s",
            Stat.of(idle),
            f"≤ {EXIT_WITHIN_S:g} s",
            holds=max(idle) <= EXIT_WITHIN_S,
            notes=[f"{repetitions} runs; the worst counts"],
        ),
        Row(
            "exit_hung",
            "exit after stdin closed while a call hangs on a silent server",
            "s",
            Stat.of(hung),
            f"≤ {EXIT_WITHIN_S:g} s",
            holds=max(hung) <= EXIT_WITHIN_S,
            notes=[f"{repetitions} runs; the worst counts; the call is stuck in TLS"],
        ),
    ]
