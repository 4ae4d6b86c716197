"""A full disk and a read-only database under the data dir (issue 15): the add-on gets a
clear ``storage_failed`` error, never a crash or a traceback; nothing acknowledged is lost,
the database passes ``PRAGMA integrity_check``, and the host works again once it can
write. Root only: the data dir is a small tmpfs of its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.campaign_faults import fill_disk, tmpfs
from devtools.host_process import DB_NAME, HostProcess, integrity_check
from tests.contract.test_keys import ACCOUNT, call, entry
from tests.reliability.helpers import addrs_of, pair_with_syncing, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: root only")

DB = DB_NAME


@pytest.fixture
def disk(tmp_dir: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs, unmounted at the end."""
    with tmpfs(tmp_dir / "disk") as mount:
        yield mount


def assert_storage_failed(error: dict[str, Any]) -> None:
    assert error["data"]["reason"] == "storage_failed", error
    assert error["code"] == -32040, error
    assert "Traceback" not in error["message"]


def device_on(spawn_host, account, name: str, data: Path, push: bool) -> tuple[HostProcess, str]:  # type: ignore[no-untyped-def]
    """A device whose state lives in ``data`` (its stderr log stays outside)."""
    env = {"SMA_HOST_DATA_DIR": str(data), **({} if push else {"SMA_HOST_PUSH": "off"})}
    host = spawn_host(f"{account.user.name}-{name}", env=env)
    host.call("account.configure", account.configure_params(ACCOUNT, device_name=name))
    return host, call(host, "sma.join")["muaa_id"]


def test_a_full_disk_answers_storage_failed_and_recovers(spawn_host, account, disk) -> None:  # type: ignore[no-untyped-def]
    a, a_id = device_on(spawn_host, account, "a", disk / "a", push=False)
    b, _b_id = device_on(spawn_host, account, "b", disk.parent / "b", push=True)
    pair_with_syncing(a, a_id, b)
    acknowledged: set[str] = set()
    # An empty WAL: the next write needs new space (else it may reuse the WAL's pages).
    checkpoint = sqlite3.connect(disk / "a" / DB)
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    filler = fill_disk(disk)
    stderr_before = len(a.stderr_text())
    failed = 0
    for i in range(40):  # the WAL cannot grow: the first put fails already, or soon
        addr = f"full{i:02}@example.net"
        response = a.request(
            "keys.put", {"account": ACCOUNT, "peers": [entry(addr, 100 + i, f"full{i}")]}
        )
        if "error" in response:
            assert_storage_failed(response["error"])
            failed += 1
        else:
            acknowledged.add(addr)
        if failed >= 3:
            break
    assert failed >= 3, "the full disk never failed a put"
    sync = a.request("sma.sync", {"account": ACCOUNT})
    assert "result" in sync or sync["error"]["data"]["reason"] == "storage_failed", sync
    assert a.call("hello")["protocol"] == 1  # alive
    assert "Traceback" not in a.stderr_text()[stderr_before:]
    assert integrity_check(disk / "a" / DB) == "ok"

    filler.unlink()  # space returns: the same process works again
    call(a, "keys.put", peers=[entry("after@example.net", 999, "after")])
    acknowledged.add("after@example.net")
    call(a, "sma.sync")
    wait_until(lambda: acknowledged <= addrs_of(b), 30, "every acknowledged put delivered")
    assert addrs_of(a) == acknowledged  # a failed put left nothing half-stored
    assert integrity_check(disk / "a" / DB) == "ok"


def test_a_read_only_database_answers_storage_failed_and_recovers(
    spawn_host, account, disk
) -> None:  # type: ignore[no-untyped-def]
    data = disk / "a"
    a, _a_id = device_on(spawn_host, account, "a", data, push=False)
    call(a, "keys.put", peers=[entry("before@example.net", 5, "before")])
    assert a.close() == 0
    # The data dir becomes read-only (a read-only bind mount over it), and a host starts.
    subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
        ro = spawn_host(
            f"{account.user.name}-a-ro",
            env={"SMA_HOST_DATA_DIR": str(data), "SMA_HOST_PUSH": "off"},
        )
        assert ro.call("hello")["protocol"] == 1
        response = ro.request(
            "account.configure", account.configure_params(ACCOUNT, device_name="a")
        )
        if "result" in response:  # configuring stores nothing new: the puts must fail
            response = ro.request(
                "keys.put",
                {"account": ACCOUNT, "peers": [entry("ro@example.net", 6, "ro")]},
            )
        assert_storage_failed(response["error"])
        assert ro.call("hello")["protocol"] == 1
        assert "Traceback" not in ro.stderr_text(), ro.stderr_text()
        assert ro.close() == 0
    finally:
        subprocess.run(["umount", str(data)], check=True)
    assert integrity_check(data / DB) == "ok"
    a = spawn_host(
        f"{account.user.name}-a", env={"SMA_HOST_DATA_DIR": str(data), "SMA_HOST_PUSH": "off"}
    )
    a.call("account.configure", account.configure_params(ACCOUNT, device_name="a"))
    assert addrs_of(a) == {"before@example.net"}  # nothing lost
    call(a, "keys.put", peers=[entry("after@example.net", 7, "after")])  # it writes again
    assert addrs_of(a) == {"before@example.net", "after@example.net"}
