"""IMAP servers that cannot be apt-installed beside Dovecot, unpacked from Debian packages.

Cyrus and Courier both ``Conflicts: imap-server`` (Dovecot provides it), and installing
them would start system services on ports 143/993. So their ``.deb`` files are fetched
with ``apt-get download`` and unpacked with ``dpkg-deb -x`` under ``SERVERS_ROOT``, and
only the shared libraries they need (no services) are apt-installed. Root only; run by
``scripts/bootstrap`` (``python -m devtools.debian_extract``) and by the test fixtures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVERS_ROOT = Path("/opt/sma-host-test-servers")


@dataclass(frozen=True)
class Unpacked:
    """One server's unpacked tree: ``root`` holds ``usr/``, ``etc/`` of its packages."""

    name: str
    #: Unpacked with ``dpkg-deb -x``.
    packages: tuple[str, ...]
    #: Installed with apt-get: libraries only, nothing that starts a service.
    libraries: tuple[str, ...]
    #: Relative to ``root``: present once unpacked.
    marker: str

    @property
    def root(self) -> Path:
        return SERVERS_ROOT / self.name

    @property
    def ready(self) -> bool:
        return (self.root / self.marker).is_file()

    def library_path(self) -> str:
        """``LD_LIBRARY_PATH`` for the unpacked binaries."""
        dirs = ("usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib/courier-authlib")
        return ":".join(str(self.root / d) for d in dirs)


CYRUS = Unpacked(
    "cyrus",
    ("cyrus-common", "cyrus-imapd"),
    ("libpcre3", "libxapian30", "libical3", "sasl2-bin", "libsasl2-modules"),
    "usr/lib/cyrus/bin/master",
)
COURIER = Unpacked(
    "courier",
    (
        "courier-base",
        "courier-imap",
        "courier-authlib",
        "courier-authdaemon",
        "courier-authlib-userdb",
    ),
    ("libcourier-unicode4", "libidn12", "libltdl7", "libgdbm6", "libgamin0"),
    "usr/lib/courier/courier/imaplogin",
)


def ensure_unpacked(server: Unpacked) -> str | None:
    """Unpack ``server`` when missing (as root); None when ready, else what to do."""
    if server.ready:
        return None
    hint = f"{server.name} is missing: run `sudo scripts/bootstrap` (needs apt-get)"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return hint
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt(*args: str, cwd: str | None = None) -> bool:
        done = subprocess.run(
            ["apt-get", "-q", *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    install = ("install", "-y", "--no-install-recommends", *server.libraries)
    if not apt(*install):
        apt("update")
        apt(*install)
    SERVERS_ROOT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SERVERS_ROOT) as tmp:
        # Downloads as root into a root-only dir: apt's _apt user could not write there.
        os.chmod(tmp, 0o755)
        if not apt("download", *server.packages, cwd=tmp):
            apt("update")
            if not apt("download", *server.packages, cwd=tmp):
                return hint
        tree = Path(tmp, "root")
        for deb in sorted(Path(tmp).glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        tree.chmod(0o755)
        shutil.rmtree(server.root, ignore_errors=True)
        tree.rename(server.root)
    return None if server.ready else hint


def main() -> int:
    failed = [m for m in (ensure_unpacked(s) for s in (CYRUS, COURIER)) if m]
    for message in failed:
        print(message, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
