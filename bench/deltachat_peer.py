"""The Delta Chat side of ``make bench-peers`` (``bench/peers.py``), run by the peers venv.

    build/peers-venv/bin/python bench/deltachat_peer.py smtp MAILDIRS_JSON
    build/peers-venv/bin/python bench/deltachat_peer.py driver WORKDIR

It runs under ``build/peers-venv``'s interpreter, which holds ``deltachat-rpc-server``,
``deltachat-rpc-client`` and ``aiosmtpd`` but not sma-host, and it imports those packages
dynamically, so the project's mypy (which does not have them) sees only ``Any``. Standard
library only otherwise: ``bench.peers`` runs this file by path, not as part of a package.

``smtp``: an SMTP server on loopback (no TLS, any login accepted) that delivers every
message the Maildir way into the INBOX of each recipient listed in ``MAILDIRS_JSON``
(``{"addr": "/path/to/Maildir"}``); prints ``{"port": N}`` and serves until stdin closes.

``driver``: two ``deltachat-rpc-server`` processes, one per device, each with its own
accounts folder, driven by one JSON command per line on stdin, one JSON answer per line on
stdout (``{"ok": ...}`` or ``{"error": "..."}``). See ``Driver`` for the commands.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------------ SMTP


def _deliver(maildir: Path, data: bytes, serial: int) -> None:
    """Write in ``tmp/``, rename into ``new/`` (Dovecot's inotify sees the rename)."""
    owner = maildir.stat()
    body = data.replace(b"\r\n", b"\n")
    name = f"{time.time_ns()}.M{serial}P{os.getpid()}.peers,S={len(body)}"
    tmp = maildir / "tmp" / name
    tmp.write_bytes(body)
    if os.geteuid() == 0:
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.rename(tmp, maildir / "new" / name)


class _Handler:
    def __init__(self, maildirs: dict[str, Path]) -> None:
        self.maildirs = {addr.lower(): path for addr, path in maildirs.items()}
        self.serial = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.lower() not in self.maildirs:
            return "550 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        for rcpt in envelope.rcpt_tos:
            self.serial += 1
            _deliver(self.maildirs[rcpt.lower()], bytes(data), self.serial)
        return "250 delivered"


def _accept_any_login(*_args: Any) -> Any:
    auth = importlib.import_module("aiosmtpd.smtp")
    return auth.AuthResult(success=True)


def smtp_main(maildirs_json: str) -> None:
    controller_module = importlib.import_module("aiosmtpd.controller")
    maildirs = {addr: Path(path) for addr, path in json.loads(maildirs_json).items()}
    # aiosmtpd cannot listen on port 0 (its start-up check connects to the given port).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = controller_module.Controller(
        _Handler(maildirs),
        hostname="127.0.0.1",
        port=port,
        authenticator=_accept_any_login,
        auth_require_tls=False,
        # The default 1 s ready-check would only slow the start.
        ready_timeout=30,
    )
    controller.start()
    print(json.dumps({"port": port}), flush=True)
    try:
        sys.stdin.read()  # serve until the bench closes our stdin
    finally:
        controller.stop()


# ---------------------------------------------------------------------------- driver


def _vcard(addr: str, key_b64: str) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:4.0\r\n"
        f"EMAIL:{addr}\r\nFN:{addr.split('@')[0]}\r\n"
        f"KEY:data:application/pgp-keys;base64,{key_b64}\r\n"
        "END:VCARD\r\n"
    )


class Device:
    """One ``deltachat-rpc-server`` process with its accounts folder."""

    def __init__(self, folder: Path, server: str) -> None:
        rpc_module = importlib.import_module("deltachat_rpc_client.rpc")
        folder.mkdir(parents=True, exist_ok=True)
        self.stderr = open(folder / "stderr.log", "ab")
        self.rpc: Any = rpc_module.Rpc(
            accounts_dir=str(folder / "accounts"), rpc_server_path=server, stderr=self.stderr
        )
        self.rpc.start()
        self.account = 0

    @property
    def pid(self) -> int:
        return int(self.rpc.process.pid)

    def close(self) -> None:
        try:
            self.rpc.close()
        finally:
            self.stderr.close()


class Driver:
    """Device A holds a configured profile; device B is (re)made from it by backup transfer."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = str(Path(sys.executable).with_name("deltachat-rpc-server"))
        self.a: Device | None = None
        self.b: Device | None = None
        self.chat = 0
        self.contacts: list[int] = []
        self.rounds = 0

    def _a(self) -> Device:
        assert self.a is not None, "setup first"
        return self.a

    def _b(self) -> Device:
        assert self.b is not None, "setup first"
        return self.b

    def setup(self, params: dict[str, Any]) -> dict[str, Any]:
        """Start both devices; configure A against the local servers; give it a keyring of
        ``contacts`` (vCards with keys) and a chat with the first one (the one synced)."""
        self.a = Device(self.workdir / "A", self.server)
        self.b = Device(self.workdir / "B", self.server)
        a = self.a
        a.account = int(a.rpc.add_account())
        started = time.perf_counter()
        a.rpc.add_or_update_transport(a.account, params["login"])
        configured = time.perf_counter() - started
        for key, value in params.get("config", {}).items():
            a.rpc.set_config(a.account, key, value)
        contact_ids: list[int] = []
        if params.get("contacts"):
            cards = "".join(_vcard(addr, params["key"]) for addr in params["contacts"])
            contact_ids = [int(c) for c in a.rpc.import_vcard_contents(a.account, cards)]
        self.contacts = contact_ids
        with_keys = self._key_contacts(a)
        if with_keys != len(params.get("contacts", [])):
            raise RuntimeError(f"the vCard import made {with_keys} contacts with a key")
        self.chat = int(a.rpc.create_chat_by_contact_id(a.account, contact_ids[0]))
        a.rpc.start_io(a.account)
        a.rpc.wait_for_all_work_done(a.account)
        return {
            "configure_s": configured,
            "contacts": with_keys,
            "core": a.rpc.get_system_info().get("deltachat_core_version"),
            "pids": {"A": a.pid, "B": self._b().pid},
        }

    def add_second_device(self, _params: dict[str, Any]) -> dict[str, Any]:
        """A fresh profile on B from A by backup transfer: from A's "add second device"
        (``provide_backup``) to B's ``get_backup`` returning with a configured profile."""
        a, b = self._a(), self._b()
        for old in b.rpc.get_all_account_ids():
            b.rpc.remove_account(old)
        b.account = int(b.rpc.add_account())
        started = time.perf_counter()
        provided = a.rpc.provide_backup.future(a.account)
        qr = a.rpc.get_backup_qr(a.account)
        got_qr = time.perf_counter()
        b.rpc.get_backup(b.account, qr)
        received = time.perf_counter()
        if not b.rpc.is_configured(b.account):
            raise RuntimeError("B is not configured after get_backup")
        provided()  # A's side finishes once B has everything
        provider_done = time.perf_counter()
        on_a, on_b = self._key_contacts(a), self._key_contacts(b)
        # ``provide_backup`` stops A's I/O while it runs; bring it back for the next round.
        a.rpc.start_io(a.account)
        return {
            "total_s": received - started,
            "qr_s": got_qr - started,
            "provider_done_s": provider_done - started,
            "key_contacts_on_a": on_a,
            "key_contacts_on_b": on_b,
        }

    def _key_contacts(self, device: Device) -> int:
        """How many of the imported contacts the device holds with their key."""
        return sum(
            bool(device.rpc.get_contact(device.account, c)["isKeyContact"]) for c in self.contacts
        )

    def online(self, _params: dict[str, Any]) -> dict[str, Any]:
        """Both devices' I/O on, and every pending job done (connected, idling)."""
        for device in (self._a(), self._b()):
            device.rpc.start_io(device.account)
        for device in (self._a(), self._b()):
            device.rpc.wait_for_all_work_done(device.account)
        return {}

    def _pinned(self, device: Device) -> bool:
        return bool(device.rpc.get_full_chat_by_id(device.account, self.chat)["pinned"])

    def sync_once(self, params: dict[str, Any]) -> dict[str, Any]:
        """Pin (or unpin, every other round) the chat on A; time until B shows it. B is
        polled every ``poll_s`` (an RPC round trip on a local pipe, well under 1 ms)."""
        a, b = self._a(), self._b()
        self.rounds += 1
        want = self.rounds % 2 == 1
        if self._pinned(b) == want:
            raise RuntimeError("B already shows the state to be synced")
        visibility = "Pinned" if want else "Normal"
        started = time.perf_counter()
        a.rpc.set_chat_visibility(a.account, self.chat, visibility)
        call_done = time.perf_counter()
        deadline = time.monotonic() + float(params.get("timeout", 30))
        poll = float(params.get("poll_s", 0.002))
        while self._pinned(b) != want:
            if time.monotonic() > deadline:
                raise TimeoutError("B never showed the synced chat visibility")
            time.sleep(poll)
        return {"total_s": time.perf_counter() - started, "call_s": call_done - started}

    def pids(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"A": self._a().pid, "B": self._b().pid}

    def close(self) -> None:
        for device in (self.a, self.b):
            if device is not None:
                device.close()


def driver_main(workdir: str) -> None:
    driver = Driver(Path(workdir))
    commands = {
        "setup": driver.setup,
        "add_second_device": driver.add_second_device,
        "online": driver.online,
        "sync_once": driver.sync_once,
        "pids": driver.pids,
    }
    out = sys.stdout
    # Only our answers go to stdout: anything else that prints goes to stderr.
    sys.stdout = sys.stderr
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                answer: dict[str, Any] = {"ok": commands[request["cmd"]](request)}
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        driver.close()


def main() -> None:
    mode, argument = sys.argv[1], sys.argv[2]
    if mode == "smtp":
        smtp_main(argument)
    elif mode == "driver":
        driver_main(argument)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
