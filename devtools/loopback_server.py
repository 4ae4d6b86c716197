"""What the throw-away Cyrus and Courier servers share: a short temp dir under ``/tmp``,
free loopback ports (retried when one got taken meanwhile), start/stop, ``with``, users
added at any time, and a process group killed as a whole."""

from __future__ import annotations

import imaplib
import os
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from .dovecot import ImapUser, _free_ports, _kill_group

_START_ATTEMPTS = 3


class LoopbackServer:
    """Subclasses say how to install, prepare, configure, launch, probe and add users."""

    host: str = "127.0.0.1"
    name = "server"
    tmp_prefix = "srv-"

    def __init__(self, users: Sequence[ImapUser]) -> None:
        self._users = list(users)
        self.port = 0
        self.tls_port = 0
        self.tmpdir = ""
        self.ca_file = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[str], LoopbackServer] | None = None

    @property
    def users(self) -> tuple[ImapUser, ...]:
        return tuple(self._users)

    def start(self, timeout: float = 15.0) -> None:
        message = self._install()
        if message:
            raise RuntimeError(message)
        deadline = time.monotonic() + timeout
        self.tmpdir = tempfile.mkdtemp(prefix=self.tmp_prefix, dir="/tmp")
        self._finalizer = weakref.finalize(self, _remove_tree, self.tmpdir)
        try:
            self._prepare()
            for attempt in range(1, _START_ATTEMPTS + 1):
                self.port, self.tls_port = _free_ports(2)
                self._write_config()
                self._proc = self._launch()
                if self._wait_ready(deadline):
                    return
                self._kill()
                if attempt == _START_ATTEMPTS or time.monotonic() > deadline:
                    tail = self.log_text()[-3000:]
                    raise RuntimeError(f"{self.name} did not start:\n{tail}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._kill()
        if self._finalizer is not None:
            self._finalizer()
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
        if self.tmpdir:
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

    def _write_user(self, user: ImapUser) -> None:
        raise NotImplementedError

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        """Before the group is killed: a chance to stop gracefully."""

    # ---------------------------------------------------------------- internals

    def _wait_ready(self, deadline: float) -> bool:
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                ready = self._probe()
            except (OSError, imaplib.IMAP4.error):  # not up yet (refused, reset, no login)
                ready = False
            if ready:
                return True
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            self._terminate(proc)
        _kill_group(proc.pid)
        proc.wait()


def _remove_tree(path: str) -> None:
    # As root, files belong to nobody and others: rm -rf handles every mode we create.
    subprocess.run(["rm", "-rf", path], check=False)
