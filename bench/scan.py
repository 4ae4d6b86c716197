"""``mail.scan`` of a large INBOX: the first scan of N messages (wall time, IMAP commands,
peak RSS) and the incremental scan of a few new ones.

Every message carries a valid Autocrypt header from its own sender with its own real
OpenPGP key: the worst case, where every message changes the keyring and every key is
checked by Sequoia. The mail is delivered the Maildir way and indexed by the server before
the clock starts; the host reaches Dovecot through the counting proxy (plain IMAP).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from email.utils import format_datetime

from pysequoia import Tsk

from bench.report import Row, Stat
from bench.scenarios import MB, Bench, timed_call
from bench.stdio import peak_rss_kib
from devtools.dovecot import ImapUser, drop_into_maildir
from devtools.imap_proxy import ImapProxy


def autocrypt_mail(n: int, sent: datetime) -> bytes:
    """A plain message from ``sender{n}`` with an Autocrypt header and a key of its own."""
    addr = f"sender{n:05}@example.net"
    key = bytes(Tsk.generate(f"<{addr}>").extract_certificate())
    data = base64.b64encode(key).decode()
    folded = "\r\n ".join(data[i : i + 76] for i in range(0, len(data), 76))
    lines = [
        f"From: Sender {n} <{addr}>",
        "To: me@example.org",
        f"Subject: message {n}",
        f"Date: {format_datetime(sent)}",
        f"Message-ID: <bench-{n}@example.net>",
        f"Autocrypt: addr={addr}; prefer-encrypt=mutual; keydata=\r\n {folded}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\nHello.\r\n").encode()


def deliver(bench: Bench, user: ImapUser, first: int, count: int) -> None:
    """``count`` messages into INBOX, indexed by the server before any measurement."""
    sent = datetime.now(UTC).replace(microsecond=0)
    raws = (autocrypt_mail(n, sent) for n in range(first, first + count))
    drop_into_maildir(bench.server.maildir(user.name), raws, f"scan{first}")
    client = bench.direct_client(user)
    try:
        exists = int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
        if exists != first + count:
            raise RuntimeError(f"INBOX holds {exists}, not {first + count}")
        client.unselect_folder()
    finally:
        client.logout()


def mail_scan(bench: Bench) -> list[Row]:
    plan = bench.plan
    user = bench.new_user()
    bench.direct_client(user).logout()  # Dovecot creates the Maildir at the first login
    started = time.monotonic()
    deliver(bench, user, 0, plan.scan_messages)
    setup_s = time.monotonic() - started
    with ImapProxy(bench.server.host, bench.server.port) as proxy, bench.hosts() as spawned:
        host, _ = bench.device(spawned, user, "A", False, proxy.port)
        before_kib, _ = peak_rss_kib(host.process.pid)
        proxy.reset()
        first_s, first = timed_call(host, "mail.scan", timeout=900)
        first_commands = proxy.commands()
        hwm_kib, _ = peak_rss_kib(host.process.pid)
        if first["scanned"] != plan.scan_messages or len(first["updated"]) != plan.scan_messages:
            raise RuntimeError(f"the first scan read {first['scanned']} message(s)")
        deliver(bench, user, plan.scan_messages, plan.scan_new)
        proxy.reset()
        new_s, new = timed_call(host, "mail.scan", timeout=60)
        new_commands = proxy.commands()
        if new["scanned"] != plan.scan_new or len(new["updated"]) != plan.scan_new:
            raise RuntimeError(f"the incremental scan read {new['scanned']} message(s)")
    n, k = plan.scan_messages, plan.scan_new
    rows = [
        Row("scan_first", f"first `mail.scan` of {n:,} INBOX messages: wall time", "s",
            Stat.of([first_s])),
        Row("scan_first_commands", f"first `mail.scan` of {n:,}: IMAP commands", "commands",
            Stat.of([len(first_commands)]), "no growth with the devices"),
        Row("scan_first_rss", f"peak RSS of the host after the first scan of {n:,}", "MB",
            Stat.of([hwm_kib * 1024 / MB])),
        Row("scan_new", f"incremental `mail.scan` of {k} new messages: wall time", "s",
            Stat.of([new_s])),
        Row("scan_new_commands", f"incremental `mail.scan` of {k}: IMAP commands", "commands",
            Stat.of([len(new_commands)]), "3"),
    ]  # fmt: skip
    rows[0].notes.append(
        f"{first_s / n * 1000:.2f} ms per message; every message has its own sender and real"
        f" key (Sequoia checks each); delivering and indexing took {setup_s:.1f} s, unmeasured"
    )
    rows[1].notes.append("commands: " + " ".join(first_commands) + " (no peer: no APPEND)")
    rows[1].extra["commands"] = first_commands
    rows[2].notes.append(
        f"VmHWM of a freshly started host (configure + join + the scan); after configure +"
        f" join: {before_kib * 1024 / MB:.1f} MB; MB = 10⁶ bytes"
    )
    rows[4].holds = len(new_commands) == 3
    rows[4].notes.append("commands: " + " ".join(new_commands))
    rows[4].extra["commands"] = new_commands
    return rows
