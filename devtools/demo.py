"""``make demo``: two devices of one account meet in the SMA on a throw-away Dovecot.

Starts Dovecot on loopback, spawns two ``sma-host`` processes exactly as Thunderbird
would, drives them over framed stdio and prints what was said and what the server
then holds. Everything it starts is stopped at the end.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from pysequoia import Tsk

from devtools.dovecot import DovecotServer, ImapUser, ensure_dovecot_installed
from devtools.host_process import HostProcess
from devtools.servers import imap_settings

_SECRET_KEYS = {"password", "armored"}


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "•••" if k in _SECRET_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _shorten(value: Any) -> Any:
    """Long lists (capabilities, reasons) cut to their first items, for reading."""
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) > 6 and all(isinstance(v, str) for v in value):
        return [*value[:5], f"… {len(value) - 5} more"]
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    return value


class Transcript:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print(f"\n== {text}")

    def call(self, device: str, host: HostProcess, method: str, params: dict[str, Any]) -> Any:
        print(f"{device} → {method} {json.dumps(_redact(params), ensure_ascii=False)}")
        response = host.request(method, params)
        shown = _redact(response.get("result", response.get("error")))
        print(f"{device} ← {json.dumps(_shorten(shown), ensure_ascii=False)}")
        if "error" in response:
            raise SystemExit(f"demo failed: {method} answered an error")
        return response["result"]


def _server_folders(server: DovecotServer, user: ImapUser) -> list[tuple[str, int]]:
    context = ssl.create_default_context(cafile=server.ca_file)
    with IMAPClient(server.host, port=server.tls_port, ssl=True, ssl_context=context) as client:
        client.login(user.name, user.password)
        folders = sorted(name for _flags, _delim, name in client.list_folders())
        return [
            (name, int(client.folder_status(name, ["MESSAGES"])[b"MESSAGES"])) for name in folders
        ]


def main() -> int:
    missing = ensure_dovecot_installed()
    if missing:
        print(missing, file=sys.stderr)
        return 1
    out = Transcript()
    user = ImapUser("alice", "alice-demo-password")
    with DovecotServer([user]) as server, tempfile.TemporaryDirectory(prefix="sma-demo-") as tmp:
        out.say(f"Dovecot on {server.host}:{server.tls_port} (IMAPS), account alice@example.org")
        imap = imap_settings(server, user)
        laptop = HostProcess(Path(tmp) / "laptop")
        desktop = HostProcess(Path(tmp) / "desktop")
        try:
            for name, host in (("laptop", laptop), ("desktop", desktop)):
                out.say(f"{name}: Thunderbird starts the host and says hello")
                out.call(name, host, "hello", {})
                out.call(
                    name,
                    host,
                    "account.configure",
                    {
                        "account": "account1",
                        "email": "alice@example.org",
                        "device_name": name.title(),
                        "imap": imap,
                    },
                )
                out.call(name, host, "sma.join", {"account": "account1"})
            out.say("each device lists the MUAAs it finds in _Autocrypt_SMA")
            out.call("laptop", laptop, "sma.status", {"account": "account1"})
            status = out.call("desktop", desktop, "sma.status", {"account": "account1"})
            if len(status["muaas"]) != 2:
                raise SystemExit("demo failed: the devices did not discover each other")
            desktop_id = status["self"]
            out.say("pairing: the laptop asks the desktop; its screen shows a code")
            # A real OpenPGP secret key: the host checks it with Sequoia.
            key = str(Tsk.generate(f"Demo <{user.name}@example.org>"))
            out.call("desktop", desktop, "account.key.set", {"account": "account1", "armored": key})
            request = out.call(
                "laptop", laptop, "pair.request", {"account": "account1", "to": desktop_id}
            )
            out.say(
                f"the user reads {request['code']} on the laptop; nobody calls sma.sync:"
                " each host watches its inbox (IDLE) and reports what arrives"
            )
            note = desktop.wait_notification("pair.requested")
            print(f"desktop ⇐ pair.requested {json.dumps(note)}")
            out.say("the user types the code on the desktop")
            out.call(
                "desktop",
                desktop,
                "pair.accept",
                {
                    "account": "account1",
                    "pairing_id": request["pairing_id"],
                    "code": request["code"],
                },
            )
            for name, host in (("laptop", laptop), ("desktop", desktop)):
                note = host.wait_notification("pair.completed")
                print(f"{name} ⇐ pair.completed {json.dumps(note)}")
            received = out.call("laptop", laptop, "account.key.get", {"account": "account1"})
            if received["armored"] != key:
                raise SystemExit("demo failed: the account key did not arrive")
            print("   (the laptop now holds the desktop's account key, byte for byte)")
            out.call("laptop", laptop, "sma.status", {"account": "account1"})
            out.say("the desktop learns Bob's Autocrypt key; the laptop gets it by push")
            bob = {
                "addr": "bob@example.net",
                "keydata": base64.b64encode(
                    bytes(Tsk.generate("Bob <bob@example.net>").extract_certificate())
                ).decode(),
                "prefer_encrypt": "mutual",
                "autocrypt_timestamp": 1_790_000_000,
                "last_seen": 1_790_000_000,
            }
            started = time.monotonic()
            out.call("desktop", desktop, "keys.put", {"account": "account1", "peers": [bob]})
            note = laptop.wait_notification("keys.changed")
            elapsed = time.monotonic() - started
            print(f"laptop ⇐ keys.changed {json.dumps(note)}   ({elapsed * 1000:.0f} ms later)")
            listed = out.call("laptop", laptop, "keys.list", {"account": "account1"})
            if [{k: v for k, v in p.items() if k != "fingerprint"} for p in listed["peers"]] != [
                bob
            ]:
                raise SystemExit("demo failed: the key update did not arrive")
            out.say("what the server holds now (processed pairing messages are deleted)")
            for name, count in _server_folders(server, user):
                print(f"  {name:<40} {count} message(s)")
        finally:
            codes = [laptop.close(), desktop.close()]
        out.say(f"hosts exited with {codes}; done in {time.monotonic() - out.started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
