"""The fault campaign's membership cases: a cut at every command boundary, or a ``kill -9``
at a seeded moment, during join, pair (as requester and as acceptor), ``device.remove``,
``sma.leave`` and expiry (``sma.expire``), with A's push on and off.

Each case starts from a fresh account: A talks to Dovecot through the proxy (its watcher
too when push is on), B straight and with push off (B acts only when told: a sync, an
accept). After the fault the driver does what the add-on and the user would: retry the
call that failed, sync, and start the pairing again when it died. Then it judges the
case *converged* as each operation defines it:

- join: ``_Autocrypt_SMA`` holds one announcement from A and one from B, exactly two
  inboxes exist (none orphaned by a retry), and B lists A;
- pair: A and B each list the other once, as paired; both inboxes are empty;
- remove (A removes B): B's inbox and announcement are gone, A no longer lists B, and
  B knows it was removed;
- leave (A leaves): A's inbox and announcement are gone, A has no membership, B no
  longer lists A;
- expire (A expires the unpaired B): B's inbox and announcement are gone and A no longer
  lists B.

*Lost* counts the conditions that never came true; *doubled* counts what exists twice
(an announcement, an inbox, a listed device).
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.scenarios import ACCOUNT, Bench, call
from devtools.dovecot import ImapUser
from devtools.host_process import DB_NAME, HostProcess, RpcError, integrity_check, until
from devtools.imap_proxy import ImapProxy

MODES = ("before_reply", "after_reply")
ANNOUNCE = "_Autocrypt_SMA"
_SENDER = re.compile(rb"type=announce; from=([0-9a-f]{16})")
#: Long enough for retries with backoff after a cut; a converged case ends much sooner.
SETTLE_S = 30.0


@dataclass
class Duo:
    bench: Bench
    proxy: ImapProxy
    user: ImapUser
    push: bool
    a: HostProcess
    b: HostProcess
    a_id: str = ""
    b_id: str = ""
    pairing: dict[str, Any] = field(default_factory=dict)
    result: Any = None  # what A's faulted call returned (or raised)

    def restart_a(self) -> str:
        """A ``kill -9`` and a start on the same data dir, configured as before; returns
        what ``PRAGMA integrity_check`` said between the two."""
        self.a.process.kill()
        self.a.process.wait(10)
        self.a.close()
        check = integrity_check(self.a.data_dir / DB_NAME)
        self.a = self.bench.spawn("a", self.push, data_dir=self.a.data_dir)
        self.bench.configure(self.a, self.user, "a", self.proxy.port)
        return check


def _try(host: HostProcess, method: str, **params: Any) -> Any:
    """The call's result, or the RpcError / TimeoutError it ended with."""
    try:
        return call(host, method, timeout=60, **params)
    except (RpcError, TimeoutError) as exc:
        return exc


def _status(host: HostProcess) -> dict[str, Any]:
    result = _try(host, "sma.status")
    return result if isinstance(result, dict) else {}


def _listed(host: HostProcess) -> Counter[str]:
    return Counter(m["muaa_id"] for m in _status(host).get("muaas", []))


def _paired_with(host: HostProcess, other: str) -> bool:
    return any(m["muaa_id"] == other and m["paired"] for m in _status(host).get("muaas", []))


def _server(duo: Duo) -> tuple[list[str], Counter[str]]:
    """The SMA's inbox folders, and the announcements in ``_Autocrypt_SMA`` by sender."""
    client = duo.bench.direct_client(duo.user)
    try:
        inboxes = [
            str(name)
            for _f, _d, name in client.list_folders()
            if str(name).startswith(ANNOUNCE + "_")
        ]
        senders: Counter[str] = Counter()
        if any(str(name) == ANNOUNCE for _f, _d, name in client.list_folders()):
            client.select_folder(ANNOUNCE, readonly=True)
            uids = client.search("ALL")
            for data in (client.fetch(uids, [b"BODY.PEEK[HEADER]"]) if uids else {}).values():
                found = _SENDER.search(bytes(data[b"BODY[HEADER]"]))
                if found:
                    senders[found.group(1).decode()] += 1
            client.unselect_folder()
        return inboxes, senders
    finally:
        client.logout()


def _inbox_waiting(duo: Duo, muaa_id: str) -> int:
    client = duo.bench.direct_client(duo.user)
    try:
        folder = f"{ANNOUNCE}_{muaa_id}"
        if not client.folder_exists(folder):
            return 0
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
    finally:
        client.logout()


def _done(result: Any, *accepted_reasons: str) -> bool:
    if isinstance(result, RpcError):
        return result.reason in accepted_reasons
    return not isinstance(result, TimeoutError)


# ----------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """How to set a case up, the call the fault hits (on A), and how to converge."""

    name: str
    setup: Callable[[Duo], None]
    act: Callable[[Duo], tuple[str, dict[str, Any]]]  # (method, params) of A's call
    settle: Callable[[Duo], None]
    judge: Callable[[Duo], tuple[set[str], int]]


def _join_both(duo: Duo) -> None:
    duo.a_id = call(duo.a, "sma.join")["muaa_id"]
    duo.b_id = call(duo.b, "sma.join")["muaa_id"]


def _pair(duo: Duo) -> None:
    _join_both(duo)
    request = call(duo.b, "pair.request", to=duo.a_id)
    call(duo.a, "sma.sync")
    call(duo.a, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
    call(duo.b, "sma.sync")
    until(lambda: _try(duo.a, "sma.sync") is not None and _paired_with(duo.a, duo.b_id))


# join: A is configured, not joined; B joined.
def _join_setup(duo: Duo) -> None:
    duo.b_id = call(duo.b, "sma.join")["muaa_id"]


def _join_settle(duo: Duo) -> None:
    def joined() -> bool:
        result = _try(duo.a, "sma.join")
        if isinstance(result, dict):
            duo.a_id = result["muaa_id"]
            return True
        return False

    until(joined)
    until(lambda: isinstance(_try(duo.b, "sma.sync"), dict) and duo.a_id in _listed(duo.b))


def _join_judge(duo: Duo) -> tuple[set[str], int]:
    inboxes, senders = _server(duo)
    lost = set()
    if senders[duo.a_id] == 0:
        lost.add("A's announcement")
    if f"{ANNOUNCE}_{duo.a_id}" not in inboxes:
        lost.add("A's inbox")
    if duo.a_id not in _listed(duo.b):
        lost.add("B lists A")
    doubled = sum(n - 1 for n in senders.values() if n > 1) + max(0, len(inboxes) - 2)
    return lost, doubled


# pair, A requesting (B accepts) or A accepting (B requests).
def _request_by_a(duo: Duo) -> tuple[str, dict[str, Any]]:
    return "pair.request", {"to": duo.b_id}


def _accept_by_a(duo: Duo) -> tuple[str, dict[str, Any]]:
    request = call(duo.b, "pair.request", to=duo.a_id)
    duo.pairing = request
    until(lambda: isinstance(_try(duo.a, "sma.sync"), dict))
    return "pair.accept", {"pairing_id": request["pairing_id"], "code": request["code"]}


def _pair_settle(duo: Duo, requester_is_a: bool) -> None:
    """Finish the pairing the fault hit as the user would: a request that came back is
    accepted, a failed accept typed again; a pairing that does not complete then is
    started over."""

    def paired() -> bool:
        for host in (duo.a, duo.b):
            _try(host, "sma.sync")
        return _paired_with(duo.a, duo.b_id) and _paired_with(duo.b, duo.a_id)

    new, existing = (duo.a, duo.b) if requester_is_a else (duo.b, duo.a)
    existing_id = duo.b_id if requester_is_a else duo.a_id
    request: Any = None
    if requester_is_a and isinstance(duo.result, dict):
        request = duo.result  # A's request came back: B accepts it
    elif not requester_is_a and not isinstance(duo.result, dict) and duo.pairing:
        _try(duo.a, "pair.accept", pairing_id=duo.pairing["pairing_id"], code=duo.pairing["code"])
    elif requester_is_a:
        request = _try(new, "pair.request", to=existing_id)  # no code came back: again
    deadline = time.monotonic() + SETTLE_S * 2
    while True:
        if isinstance(request, dict):
            _try(existing, "sma.sync")
            _try(existing, "pair.accept", pairing_id=request["pairing_id"], code=request["code"])
        if until(paired, 4) or time.monotonic() > deadline:
            return
        # The attempt died with the fault: the user starts again.
        request = _try(new, "pair.request", to=existing_id)


def _pair_judge(duo: Duo) -> tuple[set[str], int]:
    lost = set()
    if not _paired_with(duo.a, duo.b_id):
        lost.add("A paired with B")
    if not _paired_with(duo.b, duo.a_id):
        lost.add("B paired with A")
    for host in (duo.a, duo.b):
        _try(host, "sma.sync")
    for muaa_id in (duo.a_id, duo.b_id):
        if _inbox_waiting(duo, muaa_id):
            lost.add(f"{muaa_id}'s inbox emptied")
    doubled = sum(n - 1 for h in (duo.a, duo.b) for n in _listed(h).values() if n > 1)
    return lost, doubled


# remove: A removes B (paired).
def _remove_settle(duo: Duo) -> None:
    until(lambda: _done(_try(duo.a, "device.remove", muaa_id=duo.b_id), "not_found"))
    until(lambda: _try(duo.b, "sma.sync") is not None and _status(duo.b).get("removed") is True)


def _erased_judge(
    duo: Duo, gone: str, name: str, witness: HostProcess, witness_name: str
) -> tuple[set[str], int]:
    """Device ``gone`` off the server and off the other device's list; doubled:
    announcements a device has more than once."""
    inboxes, senders = _server(duo)
    lost = set()
    if f"{ANNOUNCE}_{gone}" in inboxes:
        lost.add(f"{name}'s inbox deleted")
    if senders[gone]:
        lost.add(f"{name}'s announcement deleted")
    if gone in _listed(witness):
        lost.add(f"{witness_name} forgot {name}")
    return lost, sum(n - 1 for n in senders.values() if n > 1)


def _b_erased_judge(duo: Duo) -> tuple[set[str], int]:
    """B gone (removal and expiry end the same way)."""
    return _erased_judge(duo, duo.b_id, "B", duo.a, "A")


def _remove_judge(duo: Duo) -> tuple[set[str], int]:
    lost, doubled = _b_erased_judge(duo)
    if _status(duo.b).get("removed") is not True:
        lost.add("B knows it was removed")
    return lost, doubled


# leave: A leaves (paired with B).
def _leave_settle(duo: Duo) -> None:
    until(lambda: _done(_try(duo.a, "sma.leave"), "not_joined"))
    until(lambda: isinstance(_try(duo.b, "sma.sync"), dict) and duo.a_id not in _listed(duo.b))


def _leave_judge(duo: Duo) -> tuple[set[str], int]:
    lost, doubled = _erased_judge(duo, duo.a_id, "A", duo.b, "B")
    if _status(duo.a).get("self") is not None:
        lost.add("A has no membership")
    return lost, doubled


# expire: A expires the unpaired B (a policy of 0 s).
def _expire_setup(duo: Duo) -> None:
    _join_both(duo)
    until(lambda: duo.b_id in _listed(duo.a))
    seen = max(m["last_seen"] for m in _status(duo.a)["muaas"] if m["muaa_id"] == duo.b_id)
    until(lambda: int(time.time()) > seen)  # the policy compares whole seconds


def _expire_settle(duo: Duo) -> None:
    until(
        lambda: (
            isinstance(_try(duo.a, "sma.expire", max_age_s=0), dict)
            and duo.b_id not in _listed(duo.a)
        )
    )


OPERATIONS = {
    "join": Operation("join", _join_setup, lambda d: ("sma.join", {}), _join_settle, _join_judge),
    "pair (A requests)": Operation(
        "pair (A requests)",
        _join_both,
        _request_by_a,
        lambda d: _pair_settle(d, True),
        _pair_judge,
    ),
    "pair (A accepts)": Operation(
        "pair (A accepts)",
        _join_both,
        _accept_by_a,
        lambda d: _pair_settle(d, False),
        _pair_judge,
    ),
    "device.remove": Operation(
        "device.remove",
        _pair,
        lambda d: ("device.remove", {"muaa_id": d.b_id}),
        _remove_settle,
        _remove_judge,
    ),
    "sma.leave": Operation(
        "sma.leave", _pair, lambda d: ("sma.leave", {}), _leave_settle, _leave_judge
    ),
    "sma.expire": Operation(
        "sma.expire",
        _expire_setup,
        lambda d: ("sma.expire", {"max_age_s": 0}),
        _expire_settle,
        _b_erased_judge,
    ),
}


@contextmanager
def duo(bench: Bench, proxy: ImapProxy, push: bool) -> Iterator[Duo]:
    """A fresh account: A through the proxy (push as asked), B direct with push off; both
    configured, neither joined."""
    user = bench.new_user()
    with bench.hosts() as spawned:
        a = bench.spawn("a", push)
        b = bench.spawn("b", False)
        spawned += [a, b]
        bench.configure(a, user, "a", proxy.port)
        bench.configure(b, user, "b", None)
        pair = Duo(bench, proxy, user, push, a, b)
        try:
            yield pair
        finally:
            if pair.a not in spawned:
                spawned.append(pair.a)  # the host started after a kill


def boundaries(bench: Bench, proxy: ImapProxy, op: Operation, push: bool) -> int:
    """How many commands A sends through the proxy for the operation's call."""
    with duo(bench, proxy, push) as d:
        op.setup(d)
        method, params = op.act(d)
        proxy.reset()
        call(d.a, method, **params)
        return len(proxy.commands())


def cut_case(
    bench: Bench, proxy: ImapProxy, op: Operation, push: bool, k: int, mode: str
) -> tuple[set[str], int]:
    with duo(bench, proxy, push) as d:
        op.setup(d)
        method, params = op.act(d)
        cut = proxy.cut_at("*", k, mode)
        d.result = _try(d.a, method, **params)
        cut.replied.wait(2)
        proxy.disarm()
        op.settle(d)
        return op.judge(d)


def kill_case(
    bench: Bench, proxy: ImapProxy, op: Operation, push: bool, rng: random.Random
) -> tuple[set[str], int, str]:
    """A is killed at a seeded moment after sending the operation's call, started again
    (``integrity_check`` must say ok), and the operation driven to its end."""
    with duo(bench, proxy, push) as d:
        op.setup(d)
        method, params = op.act(d)
        d.a.send(
            {
                "jsonrpc": "2.0",
                "id": "k",
                "method": method,
                "params": {"account": ACCOUNT, **params},
            }
        )
        time.sleep(rng.uniform(0.0, 0.15))
        check = d.restart_a()
        op.settle(d)
        lost, doubled = op.judge(d)
        return lost, doubled, check
