"""Junk and mutated native-messaging frames against a real host (seeded, for the fault
campaign): bad UTF-8, bad JSON, JSON that is no request, wrong params, huge and odd ids,
empty frames and, now and then, an oversize length prefix (16 MiB + 1, its bytes sent).

Judged from outside: every frame carrying one of our string ids (``f<n>``) is answered
exactly once; the host never answers more id-less frames than we sent; ``hello`` sent
after each batch is answered (its slowest latency is reported); the host is alive at the
end, still serves a real call, and exits cleanly when stdin closes.
"""

from __future__ import annotations

import json
import random
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from devtools.host_process import HostProcess
from sma_host.methods import METHODS as HOST_METHODS

_LENGTH = struct.Struct("=I")
OVERSIZE = 16 * 1024 * 1024 + 1
#: Methods that may run for real with the configured account: they only read.
READS = ("keys.list", "sma.status", "pair.list")
#: Every method the host has (its own catalogue, so a new one is fuzzed too).
METHODS = tuple(HOST_METHODS)
#: A whole batch's answers may wait behind one real IMAP call or two; no hang is longer.
WAIT_S = 60.0


@dataclass
class StdioResult:
    frames: int = 0
    owed: int = 0  # frames carrying our string id
    answered: int = 0
    missing: list[str] = field(default_factory=list)
    doubled: int = 0
    idless_sent: int = 0
    idless_answers: int = 0
    slowest_hello_s: float = 0.0
    failures: list[str] = field(default_factory=list)


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def _junk_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**31, 2**64, 10**30, rng.randrange(-(10**9), 10**9)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e-300])
    if kind == 4:
        return "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(0, 40)))
    if kind == 5:
        return rng.choice(["acct1", "ghost", "", "x" * 300, "\u202e", "💥"])
    if kind == 6:
        return [_junk_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {
        rng.choice(["account", "peers", "offset", "to", "code", "x", ""]): _junk_value(
            rng, depth + 1
        )
        for _ in range(rng.randrange(0, 4))
    }


def _params(rng: random.Random, method: str) -> Any:
    roll = rng.random()
    if roll < 0.1:
        return _junk_value(rng)  # not an object, or any object
    if roll < 0.2 and method in READS:
        return {"account": "acct1"}  # a real call
    params: dict[str, Any] = {"account": rng.choice(["acct1", "ghost", 7, None, "a" * 2000])}
    for _ in range(rng.randrange(0, 3)):
        params[rng.choice(["peers", "offset", "limit", "to", "code", "pairing_id", "zz"])] = (
            _junk_value(rng)
        )
    return params


def _payload(rng: random.Random, n: int) -> tuple[bytes, str | None]:
    """One frame's payload, and our id if the frame carries one (a reply is owed)."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 200)), None  # mostly bad UTF-8
    if kind == 1:
        text = json.dumps({"jsonrpc": "2.0", "id": f"f{n}", "method": "hello"})
        return text[: rng.randrange(0, len(text))].encode(), None  # cut JSON
    if kind == 2:
        return json.dumps(_junk_value(rng)).encode(), None  # JSON, mostly no object
    if kind == 3:
        bad_id = rng.choice([10**400, 1.5, [1], {"a": 1}, True, "i" * 100_000, -(2**70)])
        text = json.dumps({"jsonrpc": "2.0", "id": bad_id, "method": rng.choice(METHODS)})
        return text.encode(), None
    if kind == 4:
        return b"", None
    request: dict[str, Any] = {"jsonrpc": "2.0", "id": f"f{n}", "method": rng.choice(METHODS)}
    if rng.random() < 0.1:
        request["method"] = rng.choice(["", "nope", "keys.put ", "HELLO", "x" * 500])
    if rng.random() < 0.05:
        request["jsonrpc"] = rng.choice(["1.0", 2, None])
    if rng.random() < 0.8:
        request["params"] = _params(rng, str(request["method"]))
    if rng.random() < 0.05:
        request["extra"] = _junk_value(rng)
    if rng.random() < 0.03:  # a long id, echoed back
        request["id"] = f"f{n}-" + "L" * 50_000
    return json.dumps(request).encode(), str(request["id"])


def fuzz(host: HostProcess, frames: int, seed: int, batch: int = 500) -> StdioResult:
    """Send ``frames`` seeded junk frames to ``host`` (account ``acct1`` configured)."""
    rng = random.Random(seed)
    result = StdioResult()
    seen: set[str] = set()
    with host._cond:  # earlier calls' answers are not the fuzz's
        host.frames.clear()
    sent = 0
    while sent < frames:
        owed: list[str] = []
        chunk = bytearray()
        size = min(batch, frames - sent)
        for i in range(size):
            n = sent + i
            if rng.random() < 0.0002:  # an oversize length: refused, its bytes skipped
                chunk += _LENGTH.pack(OVERSIZE) + b"\0" * OVERSIZE
                result.idless_sent += 1
                continue
            payload, our_id = _payload(rng, n)
            chunk += _frame(payload)
            if our_id is None:
                result.idless_sent += 1
            else:
                owed.append(our_id)
        sent += size
        result.frames = sent
        result.owed += len(owed)
        try:
            host.send_raw(bytes(chunk))
            started = time.monotonic()
            hello_id = f"hello-{sent}"
            host.send({"jsonrpc": "2.0", "id": hello_id, "method": "hello"})
            host.wait_response(hello_id, WAIT_S)
            result.slowest_hello_s = max(result.slowest_hello_s, time.monotonic() - started)
            for our_id in owed:
                host.wait_response(our_id, WAIT_S)
        except (TimeoutError, OSError) as exc:
            result.failures.append(f"after {sent} frames: {str(exc)[:300]}")
            break
        _tally(host, result, seen)
    if host.process.poll() is not None:
        result.failures.append(f"the host exited ({host.process.returncode})")
    missing_at_end = result.owed - result.answered
    if missing_at_end and not result.failures:
        result.failures.append(f"{missing_at_end} owed replies never came")
    if result.doubled:
        result.failures.append(f"{result.doubled} frames answered twice")
    if result.idless_answers > result.idless_sent:
        result.failures.append(
            f"{result.idless_answers} answers without our id for {result.idless_sent} frames"
        )
    return result


def _tally(host: HostProcess, result: StdioResult, seen: set[str]) -> None:
    """Count the answers so far and forget them (100,000 frames must not pile up)."""
    with host._cond:
        frames, host.frames = host.frames, []
        host.notifications.clear()
        host.responses.clear()
    for frame in frames:
        if "result" not in frame and "error" not in frame:
            continue
        reply_id = frame.get("id")
        if isinstance(reply_id, str) and reply_id.startswith("hello-"):
            continue
        if isinstance(reply_id, str) and reply_id.startswith("f"):
            key = reply_id.split("-", 1)[0]  # f<n>: unique per frame, long ids or not
            if key in seen:
                result.doubled += 1
            else:
                seen.add(key)
                result.answered += 1
        else:
            result.idless_answers += 1
