"""Launching a program the way Thunderbird launches the host, and framed stdio without
the test harness's reader thread (whose wake-ups would be measured too).

Thunderbird runs the manifest's ``path`` with the manifest path and the add-on id as
arguments, the working directory set to the executable's folder, stdin/stdout as pipes
and stderr to its console (here: a file). ``launch`` does exactly that for any argv, so
the host and the ``python3 -c pass`` baseline are spawned the same way.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from devtools.host_process import ADDON_ID, host_executable

_LENGTH = struct.Struct("=I")


def frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return _LENGTH.pack(len(payload)) + payload


def hello_frame(request_id: int) -> bytes:
    return frame({"jsonrpc": "2.0", "id": request_id, "method": "hello"})


def read_frame(stream: IO[bytes]) -> dict[str, Any]:
    header = stream.read(4)
    if len(header) < 4:
        raise EOFError("the host closed stdout")
    (length,) = _LENGTH.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        raise EOFError("the host closed stdout inside a frame")
    message = json.loads(payload)
    if not isinstance(message, dict):
        raise ValueError("not a JSON-RPC object")
    return message


def host_argv(data_dir: Path) -> list[str]:
    """The host's command line as Thunderbird builds it (manifest path, add-on id)."""
    return [str(host_executable()), str(data_dir / "sma_host.json"), ADDON_ID]


def launch(
    argv: list[str], data_dir: Path, stderr: IO[bytes], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Spawn ``argv`` with pipes, the host executable's folder as working directory and
    ``SMA_HOST_DATA_DIR`` set, as ``devtools.host_process.HostProcess`` does."""
    full_env = {**os.environ, "SMA_HOST_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=str(host_executable().parent),
        env=full_env,
    )


def finish(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """Close stdin like Thunderbird and reap the process (killed if it lingers)."""
    if process.stdin is not None and not process.stdin.closed:
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    if process.stdout is not None:
        process.stdout.close()
    return code


def python_rss_kib(data_dir: Path, stderr: IO[bytes]) -> int:
    """Peak RSS (VmHWM, KiB) of ``python3 -c pass`` at the moment it would exit.

    A process that has exited has no ``/proc/<pid>/status`` figures any more, and the
    kernel's rusage of a child counts the parent's memory from before ``exec``; so the
    baseline interpreter writes one byte and waits on stdin (``os`` is loaded at start-up
    anyway), is measured, then released.
    """
    return held_python_rss_kib(data_dir, stderr)[0]


#: The libraries the host is built on (its dependencies in pyproject.toml), each imported
#: and used once, in a bare interpreter: the floor under the host's resident memory,
#: nothing of sma-host in it. ``pysequoia`` is added where a key has been read (after a
#: sync). No TLS context: the bench's hosts talk plain IMAP on loopback (a context adds
#: about 2.5 MB).
LIBRARY_FLOOR = """
import sqlite3
import imapclient, jsonschema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
jsonschema.Draft202012Validator({"type": "object"}).validate({})
Ed25519PrivateKey.generate().sign(b"floor")
X25519PrivateKey.generate().exchange(X25519PrivateKey.generate().public_key())
ChaCha20Poly1305(HKDF(SHA256(), 32, None, b"floor").derive(b"k")).encrypt(bytes(12), b"", None)
sqlite3.connect(":memory:").execute("SELECT 1").fetchone()
"""


def pysequoia_floor(keydata_b64: str) -> str:
    """What a sync adds to ``LIBRARY_FLOOR``: one real key read and checked by Sequoia as
    the host checks each (parsed, fingerprinted, encrypted to)."""
    return f"""
import base64, pysequoia
cert = pysequoia.Cert.from_bytes(base64.b64decode("{keydata_b64}"))
cert.fingerprint, [str(uid) for uid in cert.user_ids]
pysequoia.encrypt(b"", [cert], armor=False)
"""


def held_python_rss_kib(data_dir: Path, stderr: IO[bytes], prelude: str = "") -> tuple[int, int]:
    """(VmHWM, VmRSS) in KiB of the host's interpreter after running ``prelude``, measured
    while it waits, as ``python_rss_kib`` does for an empty program."""
    code = prelude + "\nimport os; os.write(1, b'.'); os.read(0, 1)"
    process = launch([sys.executable, "-c", code], data_dir, stderr)
    try:
        assert process.stdout is not None
        if process.stdout.read(1) != b".":
            raise RuntimeError("the measured interpreter did not start")
        return peak_rss_kib(process.pid)
    finally:
        finish(process)


def peak_rss_kib(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) of a running process in KiB, from ``/proc/<pid>/status``."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                fields[name] = int(rest.split()[0])
    return fields["VmHWM"], fields["VmRSS"]
