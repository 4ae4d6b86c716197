"""Fixtures for the Thunderbird end-to-end tests (``make e2e``; see harness.py).

The tests run only when ``SMA_E2E=1`` (the runner ``scripts/e2e`` sets it after it has
installed Thunderbird and marionette-driver and built the XPI); otherwise they are
skipped, saying how to run them. Artifacts (a screenshot per step, each Thunderbird's
output including the host's stderr, and on failure the Dovecot log) go to
``test-artifacts/e2e/<scenario>/`` and stay there.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import shutil
import signal
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.dovecot import DovecotServer, ImapUser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
THUNDERBIRD = Path(os.environ.get("SMA_E2E_THUNDERBIRD", "/usr/lib/thunderbird/thunderbird"))

_users = itertools.count(1)
_live: list[object] = []  # Thunderbird instances, for the SIGTERM handler


def _skip_reason() -> str | None:
    if os.environ.get("SMA_E2E") != "1":
        return "Thunderbird end-to-end tests: run them with `make e2e`"
    if not THUNDERBIRD.is_file():
        return (
            f"Thunderbird is not installed ({THUNDERBIRD} is missing): `make e2e` installs it "
            "as root, otherwise run `sudo apt-get install --no-install-recommends thunderbird`"
        )
    if importlib.util.find_spec("marionette_driver") is None:
        return "marionette-driver is missing: `make e2e` installs it into .venv"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    for item in items:
        if "e2e" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def _on_sigterm(signum: int, frame: types.FrameType | None) -> None:
    """The runner's timeout: kill every Thunderbird by pid, then let pytest unwind."""
    for tb in list(_live):
        process = getattr(tb, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
    raise KeyboardInterrupt(f"signal {signum}: the end-to-end run timed out")


@pytest.fixture(scope="session", autouse=True)
def _timeout_handler() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def xpi() -> Path:
    built = sorted((ROOT / "dist").glob("sma-host-*.xpi"))
    if not built:
        pytest.fail("no dist/sma-host-*.xpi: run `make xpi` (make e2e does)")
    return built[-1]


@pytest.fixture(scope="session")
def imap_server() -> Iterator[DovecotServer]:
    with DovecotServer([]) as server:
        yield server


@pytest.fixture
def mail_user(imap_server: DovecotServer) -> ImapUser:
    """A fresh mailbox for each scenario."""
    user = ImapUser(f"e2e{next(_users)}", f"pw-{os.getpid()}-{next(_users)}")
    imap_server.add_user(user)
    return user


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"^test_", "", request.node.name)
    path = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def launch(
    request: pytest.FixtureRequest,
    xpi: Path,
    imap_server: DovecotServer,
    mail_user: ImapUser,
    artifacts: Path,
) -> Iterator[Callable[..., list[object]]]:
    """Start Thunderbirds (in parallel) with the add-on page open; all are stopped at the end.

    ``launch("laptop", "desktop")`` → two instances on the same mail account, each with the
    host installed; ``launch("tb", install_host=False)`` → one without the host manifest;
    ``launch("tb", prefs={...})`` → more prefs in its user.js (more accounts, network);
    ``launch("tb", permanent=True)`` → the XPI installed as a user installs it, so that it
    and its storage survive ``tb.restart()``; ``launch("tb", env={...})`` → more environment
    for Thunderbird and so for the host it starts.
    """
    from tests.e2e.harness import MailAccount, Thunderbird

    account = MailAccount(
        email=f"{mail_user.name}@example.org",
        username=mail_user.name,
        host=imap_server.host,
        port=imap_server.port,
    )
    started: list[Thunderbird] = []

    def start(
        *names: str,
        install_host: bool = True,
        prefs: dict[str, object] | None = None,
        permanent: bool = False,
        env: dict[str, str] | None = None,
    ) -> list[Thunderbird]:
        instances = [Thunderbird(name, artifacts, account, prefs, env) for name in names]
        started.extend(instances)
        _live.extend(instances)
        for tb in instances:
            if install_host:
                tb.install_host()
            tb.spawn()
        for tb in instances:
            tb.connect(xpi, permanent=permanent)
        return instances

    try:
        yield start  # type: ignore[misc]
    finally:
        failed = request.node.stash.get(_FAILED, True)
        for tb in started:
            try:
                if failed and tb.client is not None:
                    tb.screenshot("at-failure")
            except Exception as exc:  # the instance may be gone; keep tearing down
                (artifacts / f"{tb.name}-screenshot-error.txt").write_text(repr(exc))
            finally:
                tb.stop()
                _live.remove(tb)
                tb.extract_host_stderr()
        if failed:
            (artifacts / "dovecot.log").write_text(imap_server.log_text())
