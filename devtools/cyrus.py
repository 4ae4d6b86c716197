"""Throw-away Cyrus IMAP 3.6 servers on loopback, for tests (like ``devtools/dovecot.py``).

Runs the binaries ``devtools/debian_extract.py`` unpacked from Debian's packages, with
everything (config, spool, SASL user database, sockets) in a short temp dir under
``/tmp``, following ``/work/shared/notes/imap-test-servers.md``: plain IMAP and IMAPS on
free loopback ports, ``idled`` for IDLE push, no pause after failed logins. As root the
server runs as ``nobody`` (Cyrus refuses root). ``inbox_prefix=True`` gives the
traditional ``INBOX.`` namespace (``altnamespace: 0``, ``.``), the default the
alternative one (``""``, ``/``).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .debian_extract import CYRUS, ensure_unpacked
from .dovecot import write_self_signed_cert
from .loopback_server import ImapUser, LoopbackServer, _probe

__all__ = ["CyrusServer", "ensure_cyrus_installed"]


def ensure_cyrus_installed() -> str | None:
    """None when Cyrus can run here (unpacking it first as root), else what to do."""
    return ensure_unpacked(CYRUS)


class CyrusServer(LoopbackServer):
    """One private Cyrus instance; ``with CyrusServer([...]) as server: ...``."""

    name = "cyrus"
    tmp_prefix = "cy-"

    def __init__(
        self,
        users: Sequence[ImapUser] = (ImapUser("alice", "alice-pw"),),
        *,
        inbox_prefix: bool = False,
    ) -> None:
        super().__init__(users)
        self.inbox_prefix = inbox_prefix
        self._as_root = os.geteuid() == 0

    @property
    def realm(self) -> str:
        # Unique per instance: the greeting names it, so the readiness probe cannot talk
        # to another server that took the port meanwhile. SASL users live in this realm.
        return os.path.basename(self.tmpdir)

    def log_text(self) -> str:
        try:
            return Path(self.tmpdir, "log", "master.log").read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ internals

    def _install(self) -> str | None:
        return ensure_cyrus_installed()

    def _prepare(self) -> None:
        for sub in (
            "conf/db",
            "conf/socket",
            "conf/proc",
            "conf/lock",
            "conf/log",
            "conf/msg",
            "conf/user",
            "conf/quota",
            "spool",
            "sieve",
            "tls",
            "log",
        ):
            os.makedirs(self._path(sub))
        self.ca_file = self._path("tls", "cert.pem")
        write_self_signed_cert(self.ca_file, self._path("tls", "key.pem"))
        for user in self._users:
            self._write_user(user)
        if self._as_root:
            os.chmod(self.tmpdir, 0o755)
            self._chown_tree()

    def _chown_tree(self) -> None:
        nobody = pwd.getpwnam("nobody")
        for top, dirs, files in os.walk(self.tmpdir):
            for name in (top, *(os.path.join(top, n) for n in (*dirs, *files))):
                os.chown(name, nobody.pw_uid, nobody.pw_gid)

    def _write_user(self, user: ImapUser) -> None:
        sasldb = self._path("sasldb2")
        subprocess.run(
            ["saslpasswd2", "-p", "-c", "-f", sasldb, "-u", self.realm, user.name],
            input=user.password.encode(),
            capture_output=True,
            check=True,
            timeout=10,
        )
        if self._as_root:
            nobody = pwd.getpwnam("nobody")
            os.chown(sasldb, nobody.pw_uid, nobody.pw_gid)

    def _write_config(self) -> None:
        t = self.tmpdir
        user = "nobody" if self._as_root else pwd.getpwuid(os.geteuid()).pw_name
        alt = "0" if self.inbox_prefix else "1"
        Path(t, "imapd.conf").write_text(f"""\
configdirectory: {t}/conf
partition-default: {t}/spool
sievedir: {t}/sieve
cyrus_user: {user}
servername: {self.realm}
admins: cyrusadm
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {t}/sasldb2
sasl_mech_list: PLAIN LOGIN
autocreate_quota: 0
altnamespace: {alt}
unixhierarchysep: {alt}
failedloginpause: 0
idlesocket: {t}/conf/socket/idle
lmtpsocket: {t}/conf/socket/lmtp
notifysocket: {t}/conf/socket/notify
tls_server_cert: {t}/tls/cert.pem
tls_server_key: {t}/tls/key.pem
syslog_prefix: cyrus-test
""")
        bin_ = CYRUS.root / "usr/lib/cyrus/bin"
        conf = f"-C {t}/imapd.conf"
        Path(t, "cyrus.conf").write_text(f"""\
START {{
  recover cmd="{bin_}/ctl_cyrusdb {conf} -r"
}}
SERVICES {{
  imap  cmd="{bin_}/imapd {conf}"    listen="127.0.0.1:{self.port}" prefork=1
  imaps cmd="{bin_}/imapd {conf} -s" listen="127.0.0.1:{self.tls_port}" prefork=0
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{bin_}/idled {conf}"
}}
""")
        if self._as_root:
            self._chown_tree()

    def _launch(self) -> subprocess.Popen[bytes]:
        t = self.tmpdir
        user = "nobody" if self._as_root else pwd.getpwuid(os.geteuid()).pw_name
        env = dict(os.environ, CYRUS_USER=user, LD_LIBRARY_PATH=CYRUS.library_path())
        return subprocess.Popen(
            [
                str(CYRUS.root / "usr/lib/cyrus/bin/master"),
                "-C",
                f"{t}/imapd.conf",
                "-M",
                f"{t}/cyrus.conf",
                "-p",
                f"{t}/master.pid",
                "-L",
                f"{t}/log/master.log",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=t,
            start_new_session=True,
        )

    def _probe(self) -> bool:
        user = self._users[0] if self._users else None
        return _probe(self.host, self.port, self.realm.encode(), user, 2.0)

    def _terminate(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGTERM)  # the master ends its children in ~10 ms
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            pass
