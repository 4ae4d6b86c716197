"""What the throw-away Dovecot, Cyrus and Courier servers share: a short temp dir under
``/tmp``, free loopback ports (retried when one got taken meanwhile), start/stop,
``with``, users added at any time, and a process group killed as a whole (also when a
forgotten server is collected or the interpreter exits)."""

from __future__ import annotations

import imaplib
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["ImapUser", "LoopbackServer"]

_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class ImapUser:
    """A mailbox owner (the name is case-insensitive, as Dovecot lowercases logins)."""

    name: str
    password: str

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in ":/\\%\n\r\t ") or self.name in {".", ".."}:
            raise ValueError(f"unsupported IMAP user name: {self.name!r}")
        if any(c in self.password for c in ":\n\r\0"):
            raise ValueError("IMAP password must not contain ':', NUL or line breaks")


class LoopbackServer:
    """Subclasses say how to install, prepare, configure, launch, probe and add users."""

    host: str = "127.0.0.1"
    name = "server"
    tmp_prefix = "srv-"
    start_timeout = 15.0
    poll_interval = 0.02

    def __init__(self, users: Sequence[ImapUser]) -> None:
        self._users = list(users)
        self.port = 0
        self.tls_port = 0
        self.tmpdir = ""
        self.ca_file = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: (
            weakref.finalize[[subprocess.Popen[bytes] | None, str], LoopbackServer] | None
        ) = None

    @property
    def users(self) -> tuple[ImapUser, ...]:
        return tuple(self._users)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float | None = None) -> None:
        """Prepare a fresh temp dir, launch on free ports, wait until ready."""
        if self._proc is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        message = self._install()
        if message:
            raise RuntimeError(message)
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        self.tmpdir = tempfile.mkdtemp(prefix=self.tmp_prefix, dir="/tmp")
        self._finalizer = weakref.finalize(self, _cleanup, None, self.tmpdir)
        try:
            self._prepare()
            for attempt in range(1, _START_ATTEMPTS + 1):
                self.port, self.tls_port = _free_ports(2)
                self._write_config()
                self._start_process()
                error = self._wait_ready(deadline)
                if error is None:
                    return
                self._kill()
                if attempt == _START_ATTEMPTS or not self._may_retry(deadline):
                    tail = "\n".join(self.log_text().splitlines()[-_LOG_TAIL_LINES:])
                    raise RuntimeError(f"{error}\n--- {self.name} log (tail) ---\n{tail}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server and every process it started, then delete the temp dir."""
        self._kill()
        if self._finalizer is not None:
            self._finalizer()  # removes the temp dir (once)
            self._finalizer = None

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_user(self, user: ImapUser) -> None:
        """Add a user; takes effect at once, also while running."""
        self._users.append(user)
        if self._finalizer is not None:  # temp dir exists
            self._write_user(user)

    def log_text(self) -> str:
        return ""

    # ----------------------------------------------------------- for subclasses

    def _path(self, *parts: str) -> str:
        return os.path.join(self.tmpdir, *parts)

    def _install(self) -> str | None:
        raise NotImplementedError

    def _prepare(self) -> None:
        raise NotImplementedError

    def _write_config(self) -> None:
        """Write what depends on the ports (called once per start attempt)."""

    def _launch(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def _probe(self) -> bool:
        """One readiness probe: True when the server answers as itself."""
        raise NotImplementedError

    def _not_ready(self, timeout: float) -> str | None:
        """One readiness probe within ``timeout``: None when ready, else why not."""
        return None if self._probe() else "no answer from this instance yet"

    def _may_retry(self, deadline: float) -> bool:
        """After a failed start attempt: whether to try again on other ports."""
        return time.monotonic() < deadline

    def _write_user(self, user: ImapUser) -> None:
        raise NotImplementedError

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        """Before the group is killed: a chance to stop gracefully."""

    # ---------------------------------------------------------------- internals

    def _start_process(self) -> None:
        self._proc = self._launch()
        # The server leads its own process group; make sure an abandoned one dies too.
        self._rearm_finalizer(self._proc)

    def _rearm_finalizer(self, proc: subprocess.Popen[bytes] | None) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, proc, self.tmpdir)

    def _wait_ready(self, deadline: float) -> str | None:
        """Probe until ready: None when ready, else why not."""
        assert self._proc is not None
        last: str | None = "no answer"
        while True:
            rc = self._proc.poll()
            if rc is not None:
                return f"{self.name} exited with status {rc} during startup"
            timeout = max(0.1, min(2.0, deadline - time.monotonic()))
            try:
                last = self._not_ready(timeout)
            except (OSError, imaplib.IMAP4.error) as e:  # not up yet (refused, reset, no login)
                last = f"{type(e).__name__}: {e}"
            if last is None:
                return None
            if time.monotonic() >= deadline:
                return f"{self.name} not ready in time ({last})"
            time.sleep(self.poll_interval)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._terminate(proc)
        _kill_group(proc.pid)
        proc.wait()
        if self._finalizer is not None:
            self._rearm_finalizer(None)


# ---------------------------------------------------------------------- helpers


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _imap_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _probe(
    host: str,
    port: int,
    greeting: bytes,
    user: ImapUser | None,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> bool:
    """One readiness probe: greeting, then (with a user) LOGIN + NOOP + LOGOUT."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = tls.wrap_socket(raw, server_hostname=host) if tls is not None else raw
        stream = sock.makefile("rb")
        try:
            first = stream.readline()
            if not first.startswith(b"* OK") or greeting not in first:
                return False
            if user is None:
                return True
            login = f"a LOGIN {_imap_quote(user.name)} {_imap_quote(user.password)}\r\n"
            sock.sendall(login.encode() + b"b NOOP\r\nc LOGOUT\r\n")
            while line := stream.readline():
                if line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD", b"* BYE")):
                    return False
                if line.startswith(b"b OK"):
                    return True
            return False
        finally:
            stream.close()
            if sock is not raw:
                sock.close()


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[0] != "Z" and fields[2] == str(pgid):
            members.append(int(entry))
    return members


def _kill_group(pgid: int, timeout: float = 2.0) -> None:
    """SIGKILL process group ``pgid`` until /proc shows no live member."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # e.g. members already switched to another uid (root runs)
            for pid in _group_members(pgid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not _group_members(pgid) or time.monotonic() >= deadline:
            return
        time.sleep(0.002)


def _cleanup(proc: subprocess.Popen[bytes] | None, tmpdir: str) -> None:
    """Finalizer (also at exit): kill a forgotten server's group, delete its temp dir."""
    if proc is not None:
        _kill_group(proc.pid)
        proc.wait()
    # As root, files belong to nobody and others: rm -rf handles every mode we create.
    subprocess.run(["rm", "-rf", tmpdir], check=False)
