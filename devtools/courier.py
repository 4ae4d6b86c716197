"""Throw-away Courier-IMAP 5.0 servers on loopback, for tests (like ``devtools/dovecot.py``).

Courier's programs read fixed paths: ``/etc/courier/authdaemonrc``, the user database
``/etc/courier/userdb.dat``, the authdaemon socket ``/run/courier/authdaemon/socket``
(compiled into ``libcourierauth``) and modules under ``/usr/lib/courier-authlib``. So
the server runs in a private mount namespace (``unshare --mount``, root only) where
overlays put the temp dir's ``etc/courier`` over ``/etc`` and the unpacked packages
(``devtools/debian_extract.py``) over ``/usr``, and a tmpfs holds ``/run``: nothing
outside the temp dir is read or written, and nothing of it is visible outside.

``couriertcpd`` serves plain IMAP (``imaplogin`` → ``imapd``) and IMAPS (through
``couriertls``) on free loopback ports; ``authdaemond`` checks logins against a userdb
in the temp dir (``userdb.dat`` is a symlink out of the overlay, so add_user() takes
effect at once). Mail is stored as ``nobody``. IDLE is Courier's default: no push
(``IMAP_ENHANCEDIDLE=0``), the server rechecks every ``IMAP_IDLE_TIMEOUT`` seconds.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .debian_extract import COURIER, ensure_unpacked
from .dovecot import write_self_signed_cert
from .loopback_server import ImapUser, LoopbackServer

__all__ = ["CourierServer", "ensure_courier_installed"]

#: Seconds between Courier's own checks for new mail while a client IDLEs.
IDLE_TIMEOUT_S = 10


def ensure_courier_installed() -> str | None:
    """None when Courier can run here (unpacking it first), else why not."""
    if os.geteuid() != 0:
        return "Courier runs in a private mount namespace: the tests must run as root"
    return ensure_unpacked(COURIER)


class CourierServer(LoopbackServer):
    """One private Courier instance; ``with CourierServer([...]) as server: ...``."""

    name = "courier"
    tmp_prefix = "co-"

    def __init__(self, users: Sequence[ImapUser] = (ImapUser("alice", "alice-pw"),)) -> None:
        super().__init__(users)
        nobody = pwd.getpwnam("nobody")
        self._uid, self._gid = nobody.pw_uid, nobody.pw_gid

    def log_text(self) -> str:
        try:
            return Path(self.tmpdir, "log", "courier.log").read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ internals

    def _install(self) -> str | None:
        return ensure_courier_installed()

    def _write_user(self, user: ImapUser) -> None:
        self._write_userdb()  # authuserdb re-reads a changed database

    def _prepare(self) -> None:
        os.chmod(self.tmpdir, 0o755)  # imapd runs as nobody and must reach the homes
        for sub in ("etc/courier", "db", "home", "log", "tls"):
            os.makedirs(self._path(sub))
        self.ca_file = self._path("tls", "cert.pem")
        write_self_signed_cert(self.ca_file, self._path("tls", "key.pem"))
        # couriertls wants the key and the certificate in one file.
        pem = Path(self._path("tls", "key.pem")).read_text() + Path(self.ca_file).read_text()
        Path(self._path("tls", "imapd.pem")).write_text(pem)
        etc = Path(self._path("etc", "courier"))
        (etc / "authdaemonrc").write_text(
            'authmodulelist="authuserdb"\nauthmodulelistorig="authuserdb"\ndaemons=3\n'
            "authdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\n"
            'DEFAULTOPTIONS=""\nLOGGEROPTS=""\n'
        )
        for dat in ("userdb.dat", "userdbshadow.dat"):
            (etc / dat).symlink_to(self._path("db", dat))
        self._write_userdb()

    def _write_userdb(self) -> None:
        """Both userdb databases, made with Courier's own ``makedatprog``."""
        homes, shadow = [], []
        for user in self._users:
            home = Path(self._path("home", user.name.lower()))
            for sub in ("", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
                (home / sub).mkdir(exist_ok=True)
                os.chown(home / sub, self._uid, self._gid)
            homes.append(
                f"{user.name}\tuid={self._uid}|gid={self._gid}|home={home}|mail={home}/Maildir\n"
            )
            hashed = (
                subprocess.run(
                    ["openssl", "passwd", "-6", "-stdin"],
                    input=user.password.encode(),
                    capture_output=True,
                    check=True,
                    timeout=10,
                )
                .stdout.decode()
                .strip()
            )
            shadow.append(f"{user.name}\tsystempw={hashed}\n")
        makedat = str(COURIER.root / "usr/lib/courier/courier-authlib/makedatprog")
        for name, lines in (("userdb.dat", homes), ("userdbshadow.dat", shadow)):
            target = self._path("db", name)
            subprocess.run(
                [makedat, "-", target + ".tmp", target],
                input="".join(lines + [".\n"]).encode(),
                env=dict(os.environ, LD_LIBRARY_PATH=COURIER.library_path()),
                capture_output=True,
                check=True,
                timeout=10,
            )

    def _script(self) -> str:
        t, root = self.tmpdir, COURIER.root
        env = {
            "IMAP_CAPABILITY": "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
            "THREAD=REFERENCES SORT QUOTA IDLE",
            "IMAP_KEYWORDS": "1",
            "IMAP_ACL": "1",
            "IMAP_IDLE_TIMEOUT": str(IDLE_TIMEOUT_S),
            "IMAP_ENHANCEDIDLE": "0",
            "IMAP_MAILBOX_SANITY_CHECK": "1",
            "IMAP_UMASK": "022",
            "IMAP_USELOCKS": "1",
            "IMAP_TLS_REQUIRED": "0",
            "IMAP_TRASHFOLDERNAME": "Trash",
            "IMAP_EMPTYTRASH": "",
            "IMAP_MOVE_EXPUNGE_TO_TRASH": "0",
            "COURIERTLS": "/usr/bin/couriertls",
            "TLS_CERTFILE": f"{t}/tls/imapd.pem",
            "TLS_VERIFYPEER": "NONE",
            "TLS_PROTOCOL": "TLS1_2+",
            "MAILDIRPATH": "Maildir",
        }
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        tcpd = (
            "/usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=60 -maxperip=60"
            " -nodnslookup -noidentlookup"
        )
        login = "/usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir"
        return f"""set -e
mount -t overlay overlay -o lowerdir={t}/etc:/etc /etc
mount -t overlay overlay -o lowerdir={root}/usr:/usr /usr
mount -t tmpfs tmpfs /run
mkdir -p /run/courier/authdaemon
export LD_LIBRARY_PATH=/usr/lib/courier-authlib {exports}
( set -a; . /etc/courier/authdaemonrc; exec /usr/lib/courier/courier-authlib/authdaemond ) &
{tcpd} {self.port} {login} &
{tcpd} {self.tls_port} /usr/bin/couriertls -server -tcpd {login} &
wait
"""

    def _launch(self) -> subprocess.Popen[bytes]:
        with open(self._path("log", "courier.log"), "ab") as log:
            return subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", self._script()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmpdir,
                start_new_session=True,
            )

    def _probe(self) -> bool:
        return _probe_in_turn(self.host, self.port, self._users[0] if self._users else None)


def _probe_in_turn(host: str, port: int, user: ImapUser | None) -> bool:
    """LOGIN, then NOOP, each after the answer to the one before: ``imaplogin`` drops
    what a client pipelines behind LOGIN (it hands over to ``imapd`` without its buffer)."""
    client = imaplib.IMAP4(host, port, timeout=2.0)
    try:
        if b"Courier" not in (client.welcome or b""):
            return False
        if user is not None:
            client.login(user.name, user.password)
            client.noop()
        return True
    finally:
        client.shutdown()
