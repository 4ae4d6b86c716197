"""What the reliability tests share: a restartable server, paired hosts, and the checks
that a run ended converged with nothing lost and nothing applied twice."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import Any

from devtools.host_process import HostProcess
from tests.contract.test_keys import call, keyring
from tests.imap_inspect import connect, messages


def outbox_rows(host: HostProcess) -> int:
    """Messages the host still has queued (read from its database, read-only)."""
    db = sqlite3.connect(f"file:{host.data_dir / 'sma-host.sqlite3'}?mode=ro", uri=True)
    try:
        (count,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
    finally:
        db.close()
    return int(count)


def changed_addrs(host: HostProcess) -> Counter[str]:
    """How often each address was named in a ``keys.changed`` so far."""
    counts: Counter[str] = Counter()
    for note in host.frames:
        if note.get("method") == "keys.changed":
            counts.update(note["params"]["addrs"])
    return counts


def wait_until(condition: Any, timeout: float, what: str, step: float = 0.1) -> float:
    """Poll ``condition()`` until true; returns the seconds it took, fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout} s: {what}"
        time.sleep(step)
    return time.monotonic() - started


def addrs_of(host: HostProcess) -> set[str]:
    return {e["addr"] for e in keyring(host)}


def assert_converged(
    account: Any, sender: HostProcess, receiver: HostProcess, addrs: set[str]
) -> None:
    """Everything arrived once: equal keyrings, each address announced once, nothing left
    queued or waiting on the server."""
    assert keyring(receiver) == keyring(sender)
    assert addrs_of(receiver) == addrs
    doubled = {a: n for a, n in changed_addrs(receiver).items() if n > 1}
    assert doubled == {}, f"applied twice: {doubled}"
    assert outbox_rows(sender) == 0

    def holding() -> list[str]:
        with connect(account.server, account.user) as client:
            folders = [f for _f, _d, f in client.list_folders() if f.startswith("_Autocrypt_SMA_")]
            return [folder for folder in folders if messages(client, folder)]

    # Eventually, not at once: a message a device had processed when the server went away
    # (a pairing's last one, say) is deleted by its next sync, which may come a few
    # seconds after the put that this test waited for has arrived.
    wait_until(lambda: not holding(), 30, "the SMA inboxes emptied")


def pair_with_syncing(a: HostProcess, a_id: str, b: HostProcess) -> None:
    """Pair B (push on) with A (push off: A syncs by hand). B's confirmation may still be
    on its way when B says it is paired, so A syncs until it has paired too."""
    request = call(b, "pair.request", to=a_id)
    call(a, "sma.sync")
    call(a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    b.wait_notification("pair.completed")
    wait_until(lambda: call(a, "sma.sync")["paired"] == 1, 20, "A pairs", step=0.2)
