"""Spawn ``sma-host`` exactly as Thunderbird does and talk to it over framed stdio.

Thunderbird runs the manifest's ``path`` with two arguments (the manifest path and the
add-on id), the working directory set to the executable's folder, stdin/stdout as the
native-messaging pipes and stderr piped to its console. ``args`` and ``cwd`` override the
launch for tests of other platforms' arguments and of other working directories.

The reader is as strict as the add-on: a frame over 1 MiB, not UTF-8 or not strict JSON
(NaN, Infinity) lands in ``bad_frames`` instead of ``frames``; a JSON object that is not a
JSON-RPC 2.0 response or notification lands in both. ``problems()`` lists what a clean run
must not show (the ``spawn_host`` fixture fails the test on any): a non-zero exit, a Python
traceback on stderr, a bad or truncated frame, a notification that breaks its schema. A
test that kills a host on purpose says so with ``kill()`` or ``expect_exit()``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sma_host.native.schemas import validate_notification

ADDON_ID = "sma-host@autocrypt.org"
#: The host's database, in its data dir.
DB_NAME = "sma-host.sqlite3"


def integrity_check(db_path: Path) -> str:
    """``PRAGMA integrity_check`` of a host database, opened read-only: "ok" when sound."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


_LENGTH = struct.Struct("=I")
#: Thunderbird drops the port on a larger host → add-on message.
MAX_FRAME_FROM_HOST = 1024 * 1024
TRACEBACK = "Traceback (most recent call last)"


def until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``condition`` every 0.2 s; False when it is still false after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def host_executable() -> Path:
    """``.venv/bin/sma-host`` beside the Python running the tests."""
    return Path(sys.executable).parent / "sma-host"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_id(value: object) -> bool:
    return value is None or isinstance(value, str) or type(value) is int


def _extra(obj: dict[str, Any], allowed: set[str]) -> str:
    return ", ".join(sorted(set(obj) - allowed))


def jsonrpc_problem(message: dict[str, Any]) -> str | None:
    """Why a host → add-on object is not a JSON-RPC 2.0 response or notification."""
    if message.get("jsonrpc") != "2.0":
        return '"jsonrpc" is not "2.0"'
    if "method" in message:
        if not isinstance(message["method"], str) or not message["method"]:
            return "method is not a non-empty string"
        if "id" in message:
            return "a request (the host only answers and notifies)"
        if extra := _extra(message, {"jsonrpc", "method", "params"}):
            return f"notification with extra members {extra}"
        if "params" in message and not isinstance(message["params"], (dict, list)):
            return "params is neither an object nor an array"
        return None
    if "id" not in message or not _is_id(message["id"]):
        return "response without a valid id"
    if extra := _extra(message, {"jsonrpc", "id", "result", "error"}):
        return f"response with extra members {extra}"
    if ("result" in message) == ("error" in message):
        return "response needs exactly one of result and error"
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict) or type(error.get("code")) is not int:
            return "error without an integer code"
        if not isinstance(error.get("message"), str):
            return "error without a string message"
        if extra := _extra(error, {"code", "message", "data"}):
            return f"error with extra members {extra}"
    return None


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(
            f"{error.get('code')} {error.get('data', {}).get('reason')}: {error.get('message')}"
        )
        self.error = error
        self.code: int = error["code"]
        self.reason: str = error.get("data", {}).get("reason", "")
        self.data: dict[str, Any] = error.get("data", {})


class HostProcess:
    """One running host; every response and notification it writes is collected."""

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] | None = None,
        executable: Path | None = None,
        cwd: Path | str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.data_dir / "host-stderr.log"
        exe = executable or host_executable()
        manifest = str(self.data_dir / "sma_host.json")
        full_env = {**os.environ, "SMA_HOST_DATA_DIR": str(self.data_dir), **(env or {})}
        self._stderr = open(self.stderr_path, "ab")
        # A restart on the same data dir appends: this host's own lines start here.
        self._stderr_start = self._stderr.tell()
        #: Exit codes the test provokes on purpose (``kill()``, ``expect_exit()``).
        self.expected_exits: set[int] = {0}
        #: Set by a test that makes the host write a traceback on purpose.
        self.traceback_expected = False
        self.killed = False
        #: Killed by ``close()`` because it did not exit after stdin closed.
        self.hung = False
        self.process = subprocess.Popen(
            [str(exe), *(args if args is not None else (manifest, ADDON_ID))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=str(cwd if cwd is not None else exe.parent),
            env=full_env,
        )
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self.responses: dict[Any, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.stdout_closed = False
        self.raw_leftover = b""
        #: Frames the add-on could not have used: (why, first bytes of the payload).
        self.bad_frames: list[tuple[str, bytes]] = []
        #: Notifications that broke their schema (``<name>.notification.json``).
        self.notification_violations: list[str] = []
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # wire

    def _read_loop(self) -> None:
        try:
            self._read_frames()
        finally:
            with self._cond:
                self.stdout_closed = True
                self._cond.notify_all()

    def _read_frames(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            header = stream.read(4)
            if len(header) < 4:
                self.raw_leftover = header
                return
            (length,) = _LENGTH.unpack(header)
            payload = stream.read(length)
            if len(payload) < length:
                self.raw_leftover = header + payload
                return
            if length > MAX_FRAME_FROM_HOST:
                self.bad_frames.append(("over 1 MiB", payload[:200]))
                continue
            try:
                # As strict as the add-on's JSON.parse: UTF-8 only, no NaN or Infinity.
                message = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
            except ValueError as exc:
                self.bad_frames.append((f"not JSON: {exc}", payload[:200]))
                continue
            if not isinstance(message, dict):
                self.bad_frames.append(("not an object", payload[:200]))
                continue
            problem = jsonrpc_problem(message)
            if problem:
                # Still delivered below, so that the test fails on it, not on a timeout.
                self.bad_frames.append((f"not JSON-RPC: {problem}", payload[:200]))
            with self._cond:
                self.frames.append(message)
                if "id" in message and ("result" in message or "error" in message):
                    self.responses[message["id"]] = message
                else:
                    self.notifications.append(message)
                    self.notification_violations += validate_notification(
                        str(message.get("method")), message.get("params", {})
                    )
                self._cond.notify_all()

    def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: Any) -> None:
        payload = json.dumps(message).encode("utf-8")
        self.send_raw(_LENGTH.pack(len(payload)) + payload)

    # calls

    def request(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send a request and wait for its response (the whole JSON-RPC object)."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.wait_response(request_id, timeout)

    def wait_response(self, request_id: Any, timeout: float = 30.0) -> dict[str, Any]:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: request_id in self.responses or self.stdout_closed, timeout
            )
            if request_id in self.responses:
                return self.responses.pop(request_id)
        raise TimeoutError(
            f"no response to {request_id!r} ({'stdout closed' if ok else 'timeout'});"
            f" stderr:\n{self.stderr_text()[-2000:]}"
        )

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """Send a request; return its result or raise ``RpcError``."""
        response = self.request(method, params, timeout)
        if "error" in response:
            raise RpcError(response["error"])
        return response["result"]

    def wait_notification(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _p: True,
        timeout: float = 30.0,
        consume: bool = True,
    ) -> dict[str, Any]:
        """Wait for a notification of ``method`` whose params satisfy ``predicate``."""

        def find() -> dict[str, Any] | None:
            for note in self.notifications:
                if note.get("method") == method and predicate(note.get("params", {})):
                    return note
            return None

        with self._cond:
            self._cond.wait_for(lambda: find() is not None or self.stdout_closed, timeout)
            note = find()
            if note is None:
                raise TimeoutError(f"no {method} notification within {timeout} s")
            if consume:
                self.notifications.remove(note)
            params: dict[str, Any] = note.get("params", {})
            return params

    def wait_for_frames(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.frames) >= count or self.stdout_closed, timeout)
            return list(self.frames)

    # lifetime

    def close_stdin(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass

    def wait_exit(self, timeout: float = 10.0) -> int:
        started = time.monotonic()
        code = self.process.wait(timeout)
        self.exit_seconds = time.monotonic() - started
        return code

    def stderr_text(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text("utf-8", errors="replace")

    def own_stderr(self) -> str:
        """What this host wrote to stderr (not an earlier host on the same data dir)."""
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, "rb") as log:
            log.seek(self._stderr_start)
            return log.read().decode("utf-8", errors="replace")

    def kill(self) -> None:
        """``kill -9`` on purpose: the teardown accepts the SIGKILL exit and a cut frame."""
        self.killed = True
        self.expected_exits.add(-signal.SIGKILL)
        self.process.kill()

    def expect_exit(self, *codes: int) -> None:
        """The test makes the host exit with one of ``codes`` on purpose."""
        self.expected_exits.update(codes)

    def problems(self) -> list[str]:
        """What a clean run must not show; call after ``close()``."""
        found: list[str] = []
        code = self.process.poll()
        if code is None:
            found.append("still running")
        elif self.hung:
            found.append("did not exit once stdin closed (killed by close())")
        elif code not in self.expected_exits:
            found.append(f"exit code {code}")
        stderr = self.own_stderr()
        if TRACEBACK in stderr and not self.traceback_expected:
            at = stderr.index(TRACEBACK)
            found.append("traceback on stderr:\n" + stderr[at : at + 3000])
        found += [f"bad frame ({why}): {head!r}" for why, head in self.bad_frames]
        if self.raw_leftover and not self.killed:
            found.append(f"truncated frame at exit: {self.raw_leftover[:200]!r}")
        found += [f"notification schema: {v}" for v in self.notification_violations]
        return found

    def close(self, timeout: float = 10.0) -> int:
        """Close stdin like Thunderbird; kill if the host does not exit in time."""
        self.close_stdin()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.hung = True
            self.process.kill()
            code = self.process.wait()
        self._reader.join(5)
        if self.process.stdout:
            self.process.stdout.close()
        self._stderr.close()
        return code

    def __enter__(self) -> HostProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
