"""Fixtures: real Dovecot servers on loopback and real ``sma-host`` processes over stdio."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from devtools.dovecot import DovecotServer, ImapUser, ensure_dovecot_installed
from devtools.host_process import HostProcess
from devtools.servers import MATRIX, ImapServer, ServerKind, imap_settings

# Deterministic property tests (the same examples on every run, as the rest of the suite),
# and no wall-clock health checks: on a loaded 2-core CI machine the time a strategy takes
# says nothing about the code under test.
settings.register_profile(
    "sma",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("sma")

_users = itertools.count(1)
_E2E_DIR = Path(__file__).parent / "e2e"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/e2e (real Thunderbird) runs with `make e2e` (SMA_E2E=1), or when named."""
    if collection_path != _E2E_DIR or os.environ.get("SMA_E2E") == "1":
        return None
    named = any(Path(arg.split("::")[0]).resolve().is_relative_to(_E2E_DIR) for arg in config.args)
    return None if named else True


@pytest.fixture(scope="session", autouse=True)
def _dovecot_installed() -> None:
    message = ensure_dovecot_installed()
    if message:
        pytest.exit(message, returncode=3)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    with DovecotServer([ImapUser("alice", "alice-pw")]) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot_inbox_prefix() -> Iterator[DovecotServer]:
    with DovecotServer(
        [ImapUser("alice", "alice-pw")], namespace_prefix="INBOX.", separator="."
    ) as server:
        yield server


@pytest.fixture(scope="module")
def dovecot_oauth2() -> Iterator[DovecotServer]:
    """Dovecot that also logs in OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER):
    ``server.issue_token(user)``, ``server.revoke(token)``; any user name will do."""
    with DovecotServer([ImapUser("alice", "alice-pw")], oauth2=True) as server:
        yield server


@dataclass(frozen=True)
class MatrixServer:
    kind: ServerKind
    server: ImapServer


@pytest.fixture(scope="module", params=sorted(MATRIX))
def any_server(request: pytest.FixtureRequest) -> Iterator[MatrixServer]:
    """Each server set-up of the matrix (devtools/servers.py) in turn. A set-up that
    cannot run here fails the test with the reason (no skip)."""
    kind = MATRIX[request.param]
    message = kind.install()
    if message:
        pytest.fail(f"{kind.name}: {message}")
    server = kind.make([ImapUser("alice", "alice-pw")])
    server.start()
    try:
        yield MatrixServer(kind, server)
    finally:
        server.stop()


@pytest.fixture
def matrix_account(any_server: MatrixServer) -> Account:
    return Account(any_server.server)


class Account:
    """A fresh IMAP user on a server: each test gets its own mailbox."""

    def __init__(self, server: ImapServer) -> None:
        self.server = server
        self.user = ImapUser(f"user{next(_users)}", "pw-" + "s3cret-" + str(next(_users)))
        server.add_user(self.user)
        self.email = f"{self.user.name}@example.org"

    def configure_params(
        self, account: str = "acct1", device_name: str = "Laptop", **imap: Any
    ) -> dict[str, Any]:
        settings = imap_settings(self.server, self.user)
        settings.update(imap)
        return {
            "account": account,
            "email": self.email,
            "device_name": device_name,
            "imap": settings,
        }


@pytest.fixture
def account(dovecot: DovecotServer) -> Account:
    return Account(dovecot)


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sma-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def spawn_host(tmp_dir: Path) -> Iterator[Callable[..., HostProcess]]:
    """Start hosts (one data dir per device name); all are closed at the end."""
    hosts: list[HostProcess] = []

    def spawn(device: str = "device-a", **kwargs: Any) -> HostProcess:
        host = HostProcess(tmp_dir / device, **kwargs)
        hosts.append(host)
        return host

    yield spawn
    for host in hosts:
        host.close()
    # Each host exited 0 (unless killed on purpose), wrote no traceback, sent only JSON-RPC
    # frames, and every notification held against its schema.
    problems = [f"{host.data_dir.name}: {p}" for host in hosts for p in host.problems()]
    if problems:
        pytest.fail("host problems:\n" + "\n".join(problems), pytrace=False)
