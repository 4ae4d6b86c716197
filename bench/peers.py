"""``make bench-peers``: sma-host side by side with Delta Chat, same Dovecot, same run.

    python -m bench.peers --peers-python build/peers-venv/bin/python [--reps 7]
        [--idle-wait 35] [--out bench/results/peers.json] [--no-netns]

Delta Chat (``deltachat-rpc-server``, one process per device) runs from its own virtual
environment through ``bench/deltachat_peer.py``; it sends through a small aiosmtpd server
that delivers into Dovecot's Maildir. The repetitions alternate (one Delta Chat round, one
sma-host round), so drift of the machine hits both alike. Prints a Markdown table
(ratio = Delta Chat ÷ sma-host) and writes the figures as JSON. As root it re-runs itself
in a network namespace that has only loopback (``unshare -n``), so nothing can leave the
machine (Delta Chat's backup transfer, iroh, would otherwise look for relays).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from pysequoia import Tsk

from bench import scenarios
from bench.report import Stat
from bench.run import _dovecot_version
from bench.stdio import peak_rss_kib
from devtools.dovecot import DovecotServer, ImapUser, ensure_dovecot_installed
from devtools.host_process import HostProcess
from devtools.imap_proxy import ImapProxy

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "peers.json"
DEFAULT_PEERS_PYTHON = HERE.parent / "build" / "peers-venv" / "bin" / "python"
PEER_SCRIPT = HERE / "deltachat_peer.py"
MB = 1_000_000
#: Keyring size on the existing device, both systems (one real key each, scenarios.keydata).
KEYRING = 10
#: Set in the child that runs inside the namespace.
NETNS_ENV = "SMA_BENCH_PEERS_NETNS"


@dataclass
class Pair:
    """One figure for both systems."""

    key: str
    figure: str
    unit: str
    dc: list[float] = field(default_factory=list)
    sma: list[float] = field(default_factory=list)
    dc_text: str = ""
    sma_text: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def stat(self, samples: list[float]) -> Stat | None:
        return Stat.of(samples) if samples else None

    @property
    def ratio(self) -> float | None:
        dc, sma = self.stat(self.dc), self.stat(self.sma)
        if dc is None or sma is None or sma.median == 0:
            return None
        return dc.median / sma.median

    def to_json(self) -> dict[str, Any]:
        dc, sma = self.stat(self.dc), self.stat(self.sma)
        return {
            "key": self.key,
            "figure": self.figure,
            "unit": self.unit,
            "deltachat": dc.to_json() if dc else None,
            "sma_host": sma.to_json() if sma else None,
            "ratio_deltachat_over_sma": self.ratio,
            "deltachat_text": self.dc_text or None,
            "sma_host_text": self.sma_text or None,
            "notes": self.notes,
            "error": self.error or None,
        }


def _fmt(samples: list[float], unit: str) -> str:
    if not samples:
        return "—"
    stat = Stat.of(samples)

    def one(value: float) -> str:
        if unit == "s":
            return f"{value:.3f}"
        if unit == "MB":
            return f"{value:.1f}"
        return f"{value:g}"

    suffix = {"s": " s", "MB": " MB"}.get(unit, "")
    if len(samples) == 1 or stat.min == stat.max:
        return f"{one(stat.median)}{suffix}"
    return f"{one(stat.median)}{suffix} ({one(stat.min)}–{one(stat.max)})"


def markdown(pairs: list[Pair], header: dict[str, Any]) -> str:
    lines = [
        f"Delta Chat {header['deltachat']} vs sma-host {header['sma_host']}, Dovecot"
        f" {header['dovecot']}, {header['reps']} alternating repetitions,"
        f" {'network namespace (loopback only)' if header['netns'] else 'host network'}",
        "",
        "| measure | Delta Chat | sma-host | ratio (DC ÷ sma) |",
        "| --- | --- | --- | --- |",
    ]
    for pair in pairs:
        if pair.error:
            lines.append(f"| {pair.figure} | failed | failed | {pair.error} |")
            continue
        ratio = pair.ratio
        lines.append(
            f"| {pair.figure} | {pair.dc_text or _fmt(pair.dc, pair.unit)}"
            f" | {pair.sma_text or _fmt(pair.sma, pair.unit)}"
            f" | {'' if ratio is None else f'{ratio:.2f}'} |"
        )
    notes = [f"- {pair.figure}: {note}" for pair in pairs for note in pair.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ Delta Chat


class PeerProcess:
    """A ``deltachat_peer.py`` process under the peers venv's interpreter."""

    def __init__(self, python: Path, mode: str, argument: str, stderr: IO[bytes]) -> None:
        self.process = subprocess.Popen(
            [str(python), str(PEER_SCRIPT), mode, argument],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{PEER_SCRIPT.name} exited ({self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def command(self, cmd: str, **params: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **params}) + "\n")
        self.process.stdin.flush()
        answer = self.read()
        if "error" in answer:
            raise RuntimeError(f"Delta Chat {cmd}: {answer['error']}")
        result: dict[str, Any] = answer["ok"]
        return result

    def close(self, timeout: float = 60.0) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def deltachat(
    python: Path, server: DovecotServer, imap_port: int, user: ImapUser, scratch: Path
) -> Iterator[tuple[PeerProcess, dict[str, Any]]]:
    """The SMTP server and the driver, device A configured with a keyring of KEYRING,
    its IMAP through ``imap_port`` (a proxy like our hosts', so both pay the same hop)."""
    email = f"{user.name}@example.org"
    probe = scenarios.Bench(scenarios.Plan.tiny(0), server, scratch).direct_client(user)
    probe.logout()  # the first login makes the user's Maildir
    maildir = server.maildir(user.name)
    with open(scratch / "deltachat-peer.log", "ab") as stderr:
        smtp = PeerProcess(python, "smtp", json.dumps({email: str(maildir)}), stderr)
        driver: PeerProcess | None = None
        try:
            smtp_port = int(smtp.read()["port"])
            driver = PeerProcess(python, "driver", str(scratch / "deltachat"), stderr)
            login = {
                "addr": email,
                "password": user.password,
                "imapServer": server.host,
                "imapPort": imap_port,
                "imapSecurity": "plain",
                "imapUser": user.name,
                "smtpServer": "127.0.0.1",
                "smtpPort": smtp_port,
                "smtpSecurity": "plain",
                "smtpUser": user.name,
                "smtpPassword": user.password,
            }
            contacts = [f"contact{i}@example.net" for i in range(KEYRING)]
            info = driver.command(
                "setup",
                login=login,
                config={"bcc_self": "1"},
                contacts=contacts,
                key=scenarios.keydata(),
            )
            yield driver, info
        finally:
            if driver is not None:
                driver.close()
            smtp.close()


# --------------------------------------------------------------------------- sma-host


@functools.cache
def account_secret_key() -> str:
    """The account's OpenPGP secret key (what Thunderbird exports), armored."""
    return str(Tsk.generate("Bench <bench@example.org>"))


def keyring_present(host: HostProcess, addr: str) -> bool:
    listed = scenarios.call(host, "keys.list", addr=addr)
    return bool(listed["peers"])


def sma_pairing(bench: scenarios.Bench, proxy: ImapProxy) -> dict[str, float]:
    """Two fresh devices (push on, pages open); E holds the account key and KEYRING
    entries. Timed from ``pair.request`` on N; the code is typed on E the moment
    ``pair.requested`` arrives."""
    user = bench.new_user()
    key = scenarios.keydata()
    addrs = [f"contact{i}@example.net" for i in range(KEYRING)]
    with bench.hosts() as spawned:
        existing, existing_id = bench.device(spawned, user, "Desktop", True, proxy.port)
        scenarios.call(existing, "account.key.set", armored=account_secret_key())
        scenarios.call(
            existing,
            "keys.put",
            peers=[scenarios.entry(a, 1_700_000_000, key) for a in addrs],
        )
        started = time.perf_counter()
        new, _ = bench.device(spawned, user, "Laptop", True, proxy.port)
        join = time.perf_counter() - started
        joined_rss = rss_mb(new.process.pid)
        proxy.wait_for(lambda c: c.count("IDLE") >= 2, 10)
        scenarios.settle(proxy)
        for host in (new, existing):
            host.send(
                {"jsonrpc": "2.0", "method": "ui.active", "params": {"account": scenarios.ACCOUNT}}
            )
        started = time.perf_counter()
        request = scenarios.call(new, "pair.request", to=existing_id)
        pid = request["pairing_id"]

        def ours(p: dict[str, Any]) -> bool:
            return bool(p.get("pairing_id") == pid)

        existing.wait_notification("pair.requested", ours, timeout=30)
        typed = time.perf_counter()
        scenarios.call(existing, "pair.accept", pairing_id=pid, code=request["code"])
        completed = new.wait_notification("pair.completed", ours, timeout=30)
        usable = time.perf_counter()
        if not completed.get("account_key_received"):
            raise RuntimeError("N's pair.completed came without E's account key")
        # The keyring: there at pair.completed already, or announced by keys.changed.
        last = addrs[-1]
        deadline = time.monotonic() + 30
        while not keyring_present(new, last):
            if time.monotonic() > deadline:
                raise TimeoutError("E's keyring never reached N")
            try:
                new.wait_notification("keys.changed", scenarios.naming(last), timeout=0.05)
            except TimeoutError:
                continue
        with_keyring = time.perf_counter()
        got = scenarios.call(new, "keys.list")["total"]
        if got < KEYRING:
            raise RuntimeError(f"N holds {got} keyring entries, not {KEYRING}")
        existing.wait_notification("pair.completed", ours, timeout=30)
    return {
        "account_key": usable - started,
        "with_keyring": with_keyring - started,
        "from_code": usable - typed,
        "join": join,
        "joined_rss": joined_rss,
    }


def tcp_connections(pid: int, ports: set[int]) -> int:
    """ESTABLISHED TCP connections of ``pid`` whose remote port is one of ``ports``."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}", encoding="ascii") as lines:
            next(lines)
            for line in lines:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if cols[3] == "01" and cols[9] in inodes and remote_port in ports:
                    count += 1
    return count


def rss_mb(pid: int) -> float:
    _hwm, rss = peak_rss_kib(pid)
    return rss * 1024 / MB


# ------------------------------------------------------------------------- the run


@dataclass
class Run:
    reps: int
    idle_wait: float
    python: Path
    log: Callable[[str], None]


def measure(run: Run, scratch: Path) -> tuple[list[Pair], dict[str, Any]]:
    second = Pair("second_device", "second device: start → usable (account key)", "s")
    keyring = Pair(
        "second_device_keyring",
        f"… with the keyring ({KEYRING} correspondents' keys) on the new device",
        "s",
    )
    from_code = Pair(
        "second_device_from_scan",
        "… from QR scanned / code typed → usable (account key)",
        "s",
    )
    sync = Pair("sync", "sync A → B of one small change", "s")
    commands = Pair("sync_commands", "… IMAP commands of both devices for that change", "commands")
    left = Pair("inbox_left", "messages the run left in INBOX", "messages")
    floor = Pair("floor_idle", "Dovecot's IDLE notification delay (the floor for both)", "s")
    rss = Pair("rss", "memory (RSS) at rest, per device", "MB")
    conns = Pair("imap_connections", "IMAP connections per device, at rest", "connections")
    conns_idle = Pair(
        "imap_connections_idle",
        f"IMAP connections per device after {run.idle_wait:g} s idle",
        "connections",
    )
    pairs = [second, keyring, from_code, sync, commands, left, floor, rss, conns, conns_idle]
    header: dict[str, Any] = {}
    qr: list[float] = []
    joined_rss: list[float] = []
    configured_rss: list[float] = []
    joins: list[float] = []
    dc_user = ImapUser("dc", f"pw-{os.urandom(6).hex()}")
    with DovecotServer([dc_user]) as server:
        plan = replace(scenarios.Plan.tiny(0), smoke=False, idle_reps=run.reps, noop_count=50)
        bench = scenarios.Bench(plan, server, scratch)
        try:
            run.log("peers: floors …")
            for row in scenarios.floors(bench):
                if row.key == "floor_idle" and row.value is not None:
                    floor.dc = floor.sma = list(row.value.samples)
            floor.notes.append(
                "APPEND on one connection → EXISTS on another that idles; one server, so"
                " one figure for both"
            )
            run.log("peers: Delta Chat set-up …")
            with (
                ImapProxy(server.host, server.port) as dc_proxy,
                deltachat(run.python, server, dc_proxy.port, dc_user, scratch) as (driver, info),
                ImapProxy(server.host, server.port) as proxy,
            ):
                header["deltachat"] = info["core"]
                header["deltachat_configure_s"] = info["configure_s"]
                configured_rss.append(rss_mb(int(info["pids"]["A"])))
                for rep in range(run.reps):
                    run.log(f"peers: second device, round {rep + 1}/{run.reps} …")
                    dc = driver.command("add_second_device")
                    second.dc.append(dc["total_s"])
                    keyring.dc.append(dc["total_s"])
                    from_code.dc.append(dc["total_s"] - dc["qr_s"])
                    qr.append(dc["qr_s"])
                    if dc["key_contacts_on_b"] < KEYRING:
                        raise RuntimeError(f"B got {dc['key_contacts_on_b']} contacts with keys")
                    ours = sma_pairing(bench, proxy)
                    second.sma.append(ours["account_key"])
                    keyring.sma.append(ours["with_keyring"])
                    from_code.sma.append(ours["from_code"])
                    joins.append(ours["join"])
                    joined_rss.append(ours["joined_rss"])
                run.log("peers: sync …")
                driver.command("online")
                user = bench.new_user()
                key = scenarios.keydata()
                with bench.hosts() as spawned:
                    a, a_id = bench.device(spawned, user, "A", True, proxy.port)
                    b, _ = bench.device(spawned, user, "B", True, proxy.port)
                    scenarios.pair_by_push(b, a, a_id)
                    dc_pids = driver.command("pids")
                    for rep in range(run.reps):
                        scenarios.settle(dc_proxy)
                        time.sleep(0.6)  # no notification timer of the server pending
                        dc_proxy.reset()
                        sync.dc.append(driver.command("sync_once")["total_s"])
                        scenarios.settle(dc_proxy)
                        dc_commands = dc_proxy.commands()
                        commands.dc.append(len(dc_commands))
                        scenarios.settle(proxy)
                        time.sleep(0.6)
                        addr = f"sync{rep}@example.net"
                        proxy.reset()
                        started = time.perf_counter()
                        scenarios.call(
                            a, "keys.put", peers=[scenarios.entry(addr, 1_700_000_000, key)]
                        )
                        b.wait_notification("keys.changed", scenarios.naming(addr), timeout=10)
                        sync.sma.append(time.perf_counter() - started)
                        scenarios.settle(proxy)
                        sma_commands = proxy.commands()
                        commands.sma.append(len(sma_commands))
                    commands.notes.append(
                        f"the last round's, Delta Chat: {' '.join(dc_commands)}; sma-host:"
                        f" {' '.join(sma_commands)}"
                    )
                    # At rest: both systems' two devices connected, idle, nothing pending.
                    scenarios.settle(proxy)
                    time.sleep(1.0)
                    ports = {server.port, proxy.port, dc_proxy.port}
                    hosts = {"A": a, "B": b}
                    for device in ("A", "B"):
                        rss.dc.append(rss_mb(int(dc_pids[device])))
                        rss.sma.append(rss_mb(hosts[device].process.pid))
                        conns.dc.append(tcp_connections(int(dc_pids[device]), ports))
                        conns.sma.append(tcp_connections(hosts[device].process.pid, ports))
                    for who, owner in (("dc", dc_user), ("sma", user)):
                        client = bench.direct_client(owner)
                        try:
                            status = client.folder_status("INBOX", [b"MESSAGES"])
                        finally:
                            client.logout()
                        getattr(left, who).append(float(status[b"MESSAGES"]))
                    run.log(f"peers: {run.idle_wait:g} s idle …")
                    time.sleep(run.idle_wait)
                    for device in ("A", "B"):
                        conns_idle.dc.append(tcp_connections(int(dc_pids[device]), ports))
                        conns_idle.sma.append(tcp_connections(hosts[device].process.pid, ports))
                        rss.notes.append(
                            f"after the idle wait, device {device}: Delta Chat"
                            f" {rss_mb(int(dc_pids[device])):.1f} MB, sma-host"
                            f" {rss_mb(hosts[device].process.pid):.1f} MB"
                        )
        finally:
            bench.close_all()
    second.notes.append(
        'Delta Chat: from `provide_backup` on A (the "add second device" button) to'
        " `get_backup` returning on B with a configured profile (backup transfer over"
        f" loopback, iroh); of which A's QR code ready: {_fmt(qr, 's')}. sma-host: from"
        " `pair.request` on N (the code shown) to `pair.completed` on N; N configured and"
        f" joined before (not counted: {_fmt(joins, 's')}), both pages open (`ui.active`);"
        " E holds the account key (`account.key.set`), and every round checks that N's"
        " `pair.completed` says `account_key_received`"
    )
    keyring.notes.append(
        f"Delta Chat: the same transfer (the keyring is in the profile: {KEYRING} vCards with"
        " keys imported on A, each round checks all on B as contacts with their key);"
        f" sma-host: until N's `keys.list` holds E's {KEYRING} entries (put on E before"
        " pairing)"
    )
    from_code.notes.append(
        "Delta Chat: from B scanning the QR code (`get_backup`) to B usable; sma-host: from"
        " `pair.requested` on E (the user types the code) to `pair.completed` on N"
    )
    sync.notes.append(
        "Delta Chat: A pins (unpins) a chat, B polled every 2 ms until it shows the same"
        " (a sync message sent to self by SMTP, fetched by B's IDLE); sma-host: A `keys.put`"
        " of one entry → B `keys.changed`. Both B idle, 0.6 s after the last change."
        " Each system's IMAP goes through a counting proxy of its own (devtools/imap_proxy.py),"
        " so both pay the same extra loopback hop"
    )
    rss.notes.append(
        "VmRSS of each device's process (`deltachat-rpc-server`; the `sma-host` Python"
        " process) after configure + join, pairing and the sync rounds, at rest; MB = 10⁶"
        " bytes; two devices, one sample each. Right after configure (Delta Chat: A, I/O"
        f" started, work done) {_fmt(configured_rss, 'MB')}; right after configure + join"
        f" (sma-host: N, each round) {_fmt(joined_rss, 'MB')}"
    )
    commands.notes.insert(
        0,
        "commands both devices sent through their proxy from the change until no command"
        " for 0.3 s (A's send, B's fetch, whatever follows; Delta Chat's SMTP not counted)",
    )
    left.notes.append(
        "INBOX `MESSAGES` of each system's sync account after all rounds (Delta Chat's sync"
        " messages are ordinary messages to self, kept and marked seen; ours travel in the"
        " `_Autocrypt_SMA` folders and are deleted once applied)"
    )
    conns.notes.append(
        "ESTABLISHED TCP connections of each device's process to Dovecot's IMAP port or to"
        " the counting proxy in front of it, from /proc; Delta Chat's SMTP connection is"
        " not counted"
    )
    return pairs, header


def _versions(python: Path) -> dict[str, str]:
    from importlib.metadata import version

    return {"sma_host": version("sma-host"), "peers_python": str(python)}


def _in_namespace(argv: list[str]) -> int:
    """Run this module again inside a fresh network namespace that has only loopback."""
    script = 'ip link set lo up && exec "$@"'
    command = ["unshare", "-n", "--", "sh", "-c", script, "sh", sys.executable, "-m"]
    command += ["bench.peers", *argv]
    child = subprocess.Popen(command, env={**os.environ, NETNS_ENV: "1"})

    def forward(signum: int, _frame: object) -> None:
        # The child stops what it started (Dovecot, hosts, Delta Chat) on the way out.
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    return child.wait()


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="repetitions of each figure")
    parser.add_argument(
        "--idle-wait", type=float, default=60.0, help="seconds idle before the second count"
    )
    parser.add_argument("--peers-python", type=Path, default=DEFAULT_PEERS_PYTHON)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--no-netns", action="store_true", help="stay in the host's network namespace"
    )
    args = parser.parse_args(argv)
    raw_argv = sys.argv[1:] if argv is None else argv
    netns = os.environ.get(NETNS_ENV) == "1"
    if not netns and not args.no_netns:
        if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
            return _in_namespace(raw_argv)
        print(
            "peers: not root (or no unshare/ip): running in the host's network namespace",
            file=sys.stderr,
        )
    if not args.peers_python.exists():
        print(f"peers: {args.peers_python} is missing: run `make bench-peers`", file=sys.stderr)
        return 2
    missing = ensure_dovecot_installed()
    if missing:
        print(missing, file=sys.stderr)
        return 3
    signal.signal(signal.SIGTERM, _terminate)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    run = Run(args.reps, args.idle_wait, args.peers_python, log)
    scratch = Path(tempfile.mkdtemp(prefix="sma-peers-"))
    started = time.monotonic()
    keep = False
    try:
        pairs, header = measure(run, scratch)
    except Exception:
        traceback.print_exc()
        log(f"peers: failed; logs kept in {scratch}")
        keep = True
        return 1
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    header.update(_versions(args.peers_python))
    header.update(
        {
            "dovecot": _dovecot_version(),
            "reps": args.reps,
            "netns": netns,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "wall_s": round(time.monotonic() - started, 1),
        }
    )
    table = markdown(pairs, header)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"header": header, "rows": [p.to_json() for p in pairs], "table": table}
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    log(f"peers: wrote {args.out} in {header['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
