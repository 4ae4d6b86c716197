"""Throw-away Dovecot 2.3 IMAP servers on loopback, for tests.

Follows the recipe in ``/work/shared/notes/imap-test-servers.md``: every server lives
in its own short temp dir under ``/tmp`` (unix-socket path limit), has its own
``base_dir``/``state_dir``, listens on free loopback ports (plain IMAP with STARTTLS and
IMAPS), uses Maildir storage, authenticates against ``passwd-file`` with plain
passwords, and answers failed logins without the default 2 s delay and per-IP penalty.

Users live in one passwd file per user (``$T/passwd.d/<name>``), not in one shared
file: Dovecot re-stats a passwd file at most once per second, so a user appended to a
shared file right after another login stays unknown for up to a second. A file that
did not exist before is read at its first lookup, so add_user() takes effect at once.
Dovecot lowercases login names (``auth_username_format = %Lu``), so logins are
case-insensitive and files, homes and maildirs use the lowercased name.

Works as root (mail processes run as ``nobody``, ``imap-login`` as ``dovenull``) and as
an ordinary user (everything runs as the caller, no chroots).

``oauth2=True`` adds Dovecot's ``oauth2`` passdb behind the passwd files, for the SASL
mechanisms in ``oauth2_mechanisms`` (default XOAUTH2 and OAUTHBEARER). It validates bearer
tokens against a TokenServer (``devtools/token_server.py``) that the server starts on
loopback and stops with itself; password logins keep working for every user. Dovecot's
auth cache is off, so a revoked token is refused at the very next login::

    with DovecotServer(oauth2=True) as server:
        token = server.issue_token("alice")
        client.oauth2_login("alice", token)     # accepted
        server.revoke(token)                    # the next login with it is refused
        server.token_checks(token)              # logins tried with it so far

Usage::

    with DovecotServer([ImapUser("alice", "alice-pw")]) as server:
        ctx = ssl.create_default_context(cafile=server.ca_file)
        client = IMAPClient(server.host, port=server.tls_port, ssl=True, ssl_context=ctx)
"""

from __future__ import annotations

import datetime
import grp
import ipaddress
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .loopback_server import ImapUser, LoopbackServer, _probe
from .token_server import TokenServer

__all__ = [
    "DOVECOT_BINARY",
    "DovecotServer",
    "ImapUser",
    "drop_into_maildir",
    "ensure_dovecot_installed",
    "maildir_folder",
    "write_self_signed_cert",
]

DOVECOT_BINARY = "/usr/sbin/dovecot"
DOVEADM_BINARY = "/usr/bin/doveadm"  # same package (dovecot-core)

_MISSING_MESSAGE = "Dovecot is missing: run `sudo apt-get install dovecot-imapd`"
_OAUTH2_MECHANISMS = ("xoauth2", "oauthbearer")


def ensure_dovecot_installed() -> str | None:
    """Make sure ``/usr/sbin/dovecot`` exists.

    Returns None when it does (installing ``dovecot-imapd`` with apt-get first when
    running as root), otherwise a one-line message saying what to do.
    """
    if DovecotServer.available():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return _MISSING_MESSAGE
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "dovecot-imapd"]

    def run(cmd: list[str]) -> bool:
        done = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
        return done.returncode == 0

    if not run(install):
        run(["apt-get", "update"])
        run(install)
    return None if DovecotServer.available() else _MISSING_MESSAGE


class DovecotServer(LoopbackServer):
    """One private Dovecot instance; start() it (or use ``with``), stop() when done."""

    name = "dovecot"
    tmp_prefix = "dc-"
    start_timeout = 10.0
    poll_interval = 0.01

    def __init__(
        self,
        users: Sequence[ImapUser] = (ImapUser("alice", "alice-pw"),),
        *,
        namespace_prefix: str = "",
        separator: str = "/",
        oauth2: bool = False,
        oauth2_mechanisms: Sequence[str] = _OAUTH2_MECHANISMS,
        tls_names: Sequence[str] = (),
        extra_config: str = "",
    ) -> None:
        mechanisms = tuple(m.lower() for m in oauth2_mechanisms)
        if oauth2 and (not mechanisms or not set(mechanisms) <= set(_OAUTH2_MECHANISMS)):
            raise ValueError(f"unsupported OAuth2 mechanisms: {oauth2_mechanisms!r}")
        if len(separator) != 1 or separator.isspace() or separator in '"\\#{}':
            raise ValueError(f"unsupported hierarchy separator: {separator!r}")
        if any(c.isspace() or c in '"\\#{}' for c in namespace_prefix):
            raise ValueError(f"unsupported namespace prefix: {namespace_prefix!r}")
        super().__init__(users)
        self._namespace_prefix = namespace_prefix
        self._separator = separator
        self._oauth2_mechanisms = mechanisms if oauth2 else ()
        self._tls_names = tuple(tls_names)  # host names the certificate names besides localhost
        #: Appended to dovecot.conf, e.g. ``imap_capability = IMAP4rev1``.
        self._extra_config = extra_config
        self._tokens: TokenServer | None = None
        self._final_log = ""
        self._as_root = os.geteuid() == 0
        self._mail_uid = 0
        self._mail_gid = 0

    # ----------------------------------------------------------------- public API

    @staticmethod
    def available() -> bool:
        """True when the Dovecot binary is installed."""
        return os.path.isfile(DOVECOT_BINARY) and os.access(DOVECOT_BINARY, os.X_OK)

    def stop(self, *, graceful: bool = False) -> None:
        """Kill the server and every process it started, then delete the temp dir.

        Default: SIGKILL the whole process group at once (a few ms; the temp dir is
        discarded anyway). ``graceful=True`` SIGTERMs the master first and waits up to
        2 s (about 1.1 s typically) before sweeping survivors. Idempotent.
        """
        if graceful and self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(2.0)
            except subprocess.TimeoutExpired:
                pass
        super().stop()
        if self._tokens is not None:
            self._tokens.stop()
            self._tokens = None

    def down(self) -> None:
        """An outage: kill the server (every connection drops) but keep its mail, config
        and ports, so that up() brings the same server back, as a restart would."""
        if self._proc is None:
            raise RuntimeError("DovecotServer not running")
        self._kill()

    def up(self, timeout: float = 10.0) -> None:
        """Start the server again after down(), on the same ports with the same mail."""
        if self._proc is not None:
            raise RuntimeError("DovecotServer already running")
        self._start_process()
        error = self._wait_ready(time.monotonic() + timeout)
        if error is not None:
            raise RuntimeError(f"dovecot did not come back: {error}")

    def add_user(self, user: ImapUser) -> None:
        """Add a user; takes effect at once, also while running."""
        if any(u.name.lower() == user.name.lower() for u in self._users):
            raise ValueError(f"user {user.name!r} already exists")
        super().add_user(user)

    @property
    def tokens(self) -> TokenServer:
        """The token endpoint of a running ``oauth2=True`` server."""
        if self._tokens is None:
            raise RuntimeError("DovecotServer not started with oauth2=True (or stopped)")
        return self._tokens

    def issue_token(self, user: str, token: str | None = None) -> str:
        """A new bearer token (or ``token`` as given) that logs ``user`` in; the user
        needs no password file."""
        return self.tokens.issue_token(user, token)

    def revoke(self, token: str) -> None:
        """Make ``token`` invalid: the next login with it is refused."""
        self.tokens.revoke(token)

    def token_checks(self, token: str | None = None) -> int:
        """How many logins (accepted or not) were tried with ``token`` (any if None)."""
        return self.tokens.checks(token)

    def kick(self, user: str) -> None:
        """Drop every IMAP session of ``user`` (``doveadm kick``), as a server restart would."""
        if not self.running:
            raise RuntimeError("DovecotServer not running")
        subprocess.run(
            [DOVEADM_BINARY, "-c", self._path("dovecot.conf"), "kick", user.lower()],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=10,
        )

    def sessions(self, user: str) -> list[int]:
        """The process ids of the IMAP sessions of ``user`` open now (``doveadm who``)."""
        if not self.running:
            raise RuntimeError("DovecotServer not running")
        who = subprocess.run(
            [DOVEADM_BINARY, "-c", self._path("dovecot.conf"), "who", "-1", user.lower()],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            text=True,
            timeout=10,
        )
        # A header line, then one line per session: "user proto pid ip".
        rows = [line.split() for line in who.stdout.splitlines()[1:]]
        return sorted(int(row[2]) for row in rows if len(row) >= 3 and row[0] == user.lower())

    def idling_sessions(self, user: str) -> list[int]:
        """The user's sessions that are in IDLE now (by their process title)."""
        idling = []
        for pid in self.sessions(user):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue  # ended meanwhile
            if b" IDLE]" in title:
                idling.append(pid)
        return idling

    def maildir(self, user: str) -> Path:
        """The user's Maildir root (``~/Maildir``; INBOX is ``cur/ new/ tmp/`` in it).

        Creates the root with ``cur/ new/ tmp/`` owned by the mail uid if missing, so a
        test may drop message files into ``new/`` before the user's first login. Files
        written as root must stay world-readable (as root the server reads them as
        ``nobody``); create further folder dirs through IMAP, not by hand.
        """
        if self._finalizer is None:
            raise RuntimeError("DovecotServer not started (or already stopped)")
        home = Path(self.tmpdir, "home", user.lower())
        root = home / "Maildir"
        for d in (home, root, root / "cur", root / "new", root / "tmp"):
            if not d.is_dir():
                d.mkdir(mode=0o700)
                if self._as_root:
                    os.chown(d, self._mail_uid, self._mail_gid)
        return root

    def log_text(self) -> str:
        """Dovecot's log (also after stop(), as it was at the time)."""
        if self._proc is None:
            return self._final_log
        return self._log_raw()

    # ------------------------------------------------------------------ internals

    @property
    def _greeting(self) -> str:
        return f"Dovecot test server {os.path.basename(self.tmpdir)} ready."

    def _install(self) -> str | None:
        return None if self.available() else _MISSING_MESSAGE

    def _prepare(self) -> None:
        for sub in ("run", "state", "log", "tls", "home"):
            os.mkdir(self._path(sub), 0o700)
        os.chmod(self._path("run"), 0o755)  # else the master "fixes" it with a warning
        if self._as_root:
            nobody = pwd.getpwnam("nobody")
            self._mail_uid, self._mail_gid = nobody.pw_uid, nobody.pw_gid
            # imap processes run as nobody: they must reach and own $T/home.
            os.chmod(self.tmpdir, 0o755)
            os.chown(self._path("home"), self._mail_uid, self._mail_gid)
        else:
            self._mail_uid, self._mail_gid = os.geteuid(), os.getegid()
        os.mkdir(self._path("passwd.d"), 0o700)
        for user in self._users:
            self._write_user(user)
        self.ca_file = self._path("tls", "cert.pem")
        write_self_signed_cert(self.ca_file, self._path("tls", "key.pem"), self._tls_names)
        if self._oauth2_mechanisms:
            self._tokens = TokenServer()
            self._tokens.start()

    def _write_user(self, user: ImapUser) -> None:
        """Create ``passwd.d/<name>`` atomically (Dovecot must never read it half-written)."""
        directory = self._path("passwd.d")
        fd, tmp = tempfile.mkstemp(prefix=".new-", dir=directory)  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{user.name.lower()}:{{PLAIN}}{user.password}\n")
        os.rename(tmp, os.path.join(directory, user.name.lower()))

    def _write_config(self) -> None:
        t = self.tmpdir
        if self._as_root:
            internal_user, internal_group = "root", "root"
            login_user = "dovenull"
            try:
                pwd.getpwnam(login_user)
            except KeyError:
                login_user = "nobody"
            login_chroot = ""
        else:
            try:
                internal_user = pwd.getpwuid(os.geteuid()).pw_name
                internal_group = grp.getgrgid(os.getegid()).gr_name
            except KeyError as e:
                raise RuntimeError(
                    "Dovecot needs the current uid/gid to have names in /etc/passwd, /etc/group"
                ) from e
            login_user = internal_user
            login_chroot = "  chroot =\n"
        uid, gid = self._mail_uid, self._mail_gid
        mechanisms = " ".join(("plain", "login", *self._oauth2_mechanisms))
        # Else Dovecot also compares a bearer token with the user's password.
        password_mechanisms = "  mechanisms = plain login\n" if self._oauth2_mechanisms else ""
        conf = f"""\
# Generated by devtools.dovecot for a throw-away test server.
instance_name = {os.path.basename(t)}
login_greeting = {self._greeting}
base_dir = {t}/run
state_dir = {t}/state
log_path = {t}/log/dovecot.log
info_log_path = {t}/log/dovecot.log
protocols = imap
listen = 127.0.0.1
# Session processes show their state in their title ("[user 127.0.0.1 IDLE]"):
# ``idling_sessions`` tells a watcher from a command connection by it.
verbose_proctitle = yes

default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}

disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
ssl = yes
ssl_cert = <{t}/tls/cert.pem
ssl_key = <{t}/tls/key.pem

mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = {self._separator}
  prefix = {self._namespace_prefix}
}}
passdb {{
  driver = passwd-file
{password_mechanisms}  args = scheme=PLAIN username_format=%u {t}/passwd.d/%u
}}
{self._oauth2_passdb()}userdb {{
  driver = static
  args = uid={uid} gid={gid} home={t}/home/%u
}}
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
{login_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
auth_failure_delay = 0
mail_max_userip_connections = 100
{self._extra_config}"""
        with open(self._path("dovecot.conf"), "w", encoding="utf-8") as f:
            f.write(conf)

    def _oauth2_passdb(self) -> str:
        """The ``oauth2`` passdb block (empty without oauth2), and its settings file.

        ``auth_cache_size = 0`` spells out the default on purpose: with a cache, a revoked
        token would keep logging in until the entry expired. Dovecot 2.3 asks the
        tokeninfo URL; the introspection URL is there should it ever POST instead.
        """
        if self._tokens is None:
            return ""
        settings = self._path("dovecot-oauth2.conf.ext")
        with open(settings, "w", encoding="utf-8") as f:
            f.write(
                f"tokeninfo_url = {self._tokens.tokeninfo_url}\n"
                "introspection_mode = post\n"
                f"introspection_url = {self._tokens.introspection_url}\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
        return f"""\
auth_cache_size = 0
passdb {{
  driver = oauth2
  mechanisms = {" ".join(self._oauth2_mechanisms)}
  args = {settings}
}}
"""

    def _launch(self) -> subprocess.Popen[bytes]:
        with open(self._path("log", "stderr.log"), "ab") as out:
            return subprocess.Popen(
                [DOVECOT_BINARY, "-F", "-c", self._path("dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.tmpdir,
                start_new_session=True,
            )

    def _not_ready(self, timeout: float) -> str | None:
        """Ready = the plain port greets with this instance's greeting and accepts LOGIN +
        NOOP (LOGIN alone is not enough: a broken mail process still says "a OK"), and
        the IMAPS port greets likewise over TLS verified against ca_file. The unique
        greeting matters: if a port got taken meanwhile, Dovecot keeps running with an
        error in its log, and the probe would otherwise talk to someone else's server.
        """
        user = self._users[0] if self._users else None
        token = self._greeting.encode()
        if not _probe(self.host, self.port, token, user, timeout):
            return "no greeting from this instance or LOGIN/NOOP not accepted yet"
        tls = ssl.create_default_context(cafile=self.ca_file)
        if not _probe(self.host, self.tls_port, token, None, timeout, tls):
            return "no greeting from this instance on the IMAPS port"
        return None

    def _may_retry(self, deadline: float) -> bool:
        # Only a port taken meanwhile is worth another attempt; the log tells.
        if "Address already in use" not in self._final_log:
            return False
        self._clear_logs()
        return True

    def _kill(self) -> None:
        if self._proc is not None:
            self._final_log = self._log_raw()
        super()._kill()

    def _log_raw(self) -> str:
        parts = []
        for name in ("stderr.log", "dovecot.log"):
            try:
                with open(self._path("log", name), encoding="utf-8", errors="replace") as f:
                    parts.append(f.read())
            except OSError:
                pass
        return "".join(parts)

    def _clear_logs(self) -> None:
        for name in ("stderr.log", "dovecot.log"):
            try:
                os.truncate(self._path("log", name), 0)
            except OSError:
                pass


# ---------------------------------------------------------------------- helpers


def maildir_folder(server: DovecotServer, user: ImapUser, folder: str) -> Path:
    """The Maildir++ directory of an existing first-level ``folder`` (``Maildir/.<folder>``).

    Dovecot stores the INBOX in the Maildir root and every other folder in a dot-prefixed
    directory beside ``cur/ new/ tmp/``; the separator is shown as ``.`` on disk.
    """
    path = server.maildir(user.name) / ("." + folder)
    if not (path / "new").is_dir():
        raise FileNotFoundError(f"{folder!r} has no Maildir at {path}: create it through IMAP")
    return path


def drop_into_maildir(directory: Path, raws: Iterable[bytes], tag: str = "sma-test") -> int:
    """Deliver ``raws`` the Maildir way (write in ``tmp/``, rename into ``new/``).

    The files get the folder's owner (the server reads them as that user when the tests
    run as root). Returns how many were written.
    """
    owner = directory.stat()
    stamp = int(time.time())
    count = 0
    for count, raw in enumerate(raws, start=1):
        # Maildir lines end in LF; Dovecot serves them with CRLF.
        data = raw.replace(b"\r\n", b"\n")
        name = f"{stamp}.M{count}P{os.getpid()}.{tag},S={len(data)}"
        tmp = directory / "tmp" / name
        tmp.write_bytes(data)
        if os.geteuid() == 0:
            os.chown(tmp, owner.st_uid, owner.st_gid)
        tmp.chmod(0o644)
        os.rename(tmp, directory / "new" / name)
    return count


def write_self_signed_cert(cert_path: str, key_path: str, extra_names: Sequence[str] = ()) -> None:
    """A self-signed CA certificate for localhost, 127.0.0.1 and ``extra_names`` (PEM), and
    its key (0600)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    *(x509.DNSName(name) for name in extra_names),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
