"""The pairing state machine: one table of transitions, and the typed attempt records.

Each pairing attempt is one record per direction: ``outgoing`` on the new device N (it
shows the code), ``incoming`` on an existing device E (the user types the code there).
``step()`` is the only way an attempt changes phase: the orchestrator asks it with the
attempt's phase and what happened, and an event the table does not list for that phase is
an ``UnexpectedEvent`` (a message is then dropped; a method answers with an error).

The tables in ``docs/protocol.md`` §7.8 are rendered from ``TABLE`` by ``markdown()``; a
test keeps them equal, so the prose and the code cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .pairing import Party


class Direction(StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class Phase(StrEnum):
    WAITING = "waiting"  # outgoing: requests sent, waiting on an accept
    REQUESTED = "requested"  # incoming: waiting on the user's code
    ACCEPTED = "accepted"  # incoming: code entered, accept sent, waiting on a confirm
    COMPLETE = "complete"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def state(self) -> str:
        """The state the add-on sees (``pair.list``) and the store keeps."""
        return "waiting" if self in LIVE else self.value

    @property
    def label(self) -> str:
        return f"`waiting`/`{self.value}`" if self in INCOMING_LIVE else f"`{self.value}`"


LIVE = frozenset({Phase.WAITING, Phase.REQUESTED, Phase.ACCEPTED})
INCOMING_LIVE = frozenset({Phase.REQUESTED, Phase.ACCEPTED})
ENDED = frozenset({Phase.COMPLETE, Phase.FAILED, Phase.EXPIRED})


class Event(StrEnum):
    """What can happen to an attempt; the value is how the docs name it."""

    REQUEST = "`pair.request`"
    REQUEST_RECEIVED = "`pair-request`"
    ACCEPT_PART = "`pair-accept` part from target T, not the last"
    ACCEPT_RECEIVED = "`pair-accept` from target T"
    ACCEPT_FORGED = "`pair-accept` from T (confirmation fails)"
    ACCEPT_LATE = "`pair-accept` after expiry"
    CODE_ENTERED = "`pair.accept(code)`"
    CODE_REJECTED = "`pair.accept(code)` (SPAKE2 fails)"
    CONFIRM_RECEIVED = "`pair-confirm` from N"
    CONFIRM_FORGED = "`pair-confirm` from N (mismatch)"
    ABORT_RECEIVED = "`pair-abort` from the peer"
    EXPIRY = "Expiry check"
    CANCEL = "`pair.cancel`"
    RETENTION = "Retention check"


#: Seconds an ended attempt is kept (for ``pair.list`` and ``pair.cancel``) before deletion.
ENDED_RETENTION_S = 600
#: New ``pair-request``s taken per sync; later ones in the same sync are dropped.
MAX_REQUESTS_PER_SYNC = 16
#: Incoming pairing requests kept waiting at once; more are dropped (a server could flood us).
MAX_WAITING_INCOMING = 16
#: Incoming attempts kept at most, waiting or ended: the oldest ended one makes room.
MAX_INCOMING_RECORDS = 64


def retention_cutoff(now: int) -> int:
    """Ended attempts first seen ended at or before this are deleted (the RETENTION rows)."""
    return now - ENDED_RETENTION_S


def request_refusal(taken: int, waiting: int) -> str | None:
    """Why a new ``pair-request`` is dropped, given the requests ``taken`` in this sync and
    the incoming attempts ``waiting``; None: it may be taken (``needs_room`` permitting)."""
    if taken >= MAX_REQUESTS_PER_SYNC:
        return "too many requests in this sync"
    if waiting >= MAX_WAITING_INCOMING:
        return "too many waiting requests"
    return None


def needs_room(records: int) -> bool:
    """With ``records`` incoming attempts kept, a new one must first delete an ended one."""
    return records >= MAX_INCOMING_RECORDS


class UnexpectedEvent(Exception):
    """No transition exists for this event in this phase."""


@dataclass(frozen=True)
class Transition:
    direction: Direction
    phases: tuple[Phase | None, ...]  # None: no attempt yet
    event: Event
    condition: str
    next: Phase | None  # None: the phase does not change
    effects: str
    #: The attempt's reason once ended (``peer_`` + the peer's own reason for aborts).
    reason: str | None = None
    #: A method refused in this phase answers with this error reason.
    error: str | None = None


_OUT = Direction.OUTGOING
_IN = Direction.INCOMING
_W, _RQ, _AC = Phase.WAITING, Phase.REQUESTED, Phase.ACCEPTED
_DONE, _FAIL, _EXP = Phase.COMPLETE, Phase.FAILED, Phase.EXPIRED

# fmt: off
TABLE: tuple[Transition, ...] = (
    # The new device N
    Transition(_OUT, (None,), Event.REQUEST, "At least one target announced", _W,
               "Per target: SPAKE2_A state saved, `pair-request` queued. Outbox flushed."
               " Returns the code."),
    Transition(_OUT, (_W,), Event.ACCEPT_PART, "Before `expires_at`; confirmation and the"
               " part OK; a part of T's not seen before; parts of T still missing", None,
               "Merge the part's keyring entries (§9.3); keep part 0's account key and devices"
               " with T's state until the last part."),
    Transition(_OUT, (_W,), Event.ACCEPT_RECEIVED, "Before `expires_at`; confirmation and"
               " payload OK; every part of T's accept arrived (§7.7)", _DONE,
               "One transaction: merge the part's keyring entries; queue `pair-confirm` to T;"
               " add T and every payload device as"
               " peers; keep E's account key if it outranks N's (§9.5), else queue N's own to T"
               " (`account-key`, relayed); queue N's keyring to T, but for the entries T's"
               " parts brought (§9.2). Then queue `pair-abort(completed_elsewhere)` to the"
               " other targets. Notify `pair.completed`."),
    Transition(_OUT, (_W,), Event.ACCEPT_FORGED, "Confirmation or payload fails (§7.7)", _FAIL,
               "Queue `pair-abort(confirmation_failed)` to T **only**. Notify `pair.failed`.",
               reason="confirmation_failed"),
    Transition(_OUT, (_W,), Event.ACCEPT_LATE, "At or after `expires_at`", None,
               "The message is dropped. The next expiry check (every sync runs one first)"
               " expires the attempt and notifies `pair.failed(expired)` once."),
    Transition(_OUT, (_W,), Event.ABORT_RECEIVED, "From a target", _FAIL,
               "Notify `pair.failed`.", reason="peer_"),
    Transition(_OUT, (_W,), Event.EXPIRY, "now ≥ `expires_at` (`sma.sync`, `pair.list`,"
               " `pair.accept`)", _EXP, "Notify `pair.failed(expired)`. Nothing is sent to peers.",
               reason="expired"),
    Transition(_OUT, (_W,), Event.CANCEL, "—", _FAIL,
               "Queue `pair-abort(cancelled)` to the peer, or to every target."
               " Notify `pair.failed`.", reason="cancelled"),
    Transition(_OUT, (_DONE, _FAIL, _EXP), Event.CANCEL, "—", None, "Returns the state."),
    Transition(_OUT, (_DONE, _FAIL, _EXP), Event.RETENTION, "10 min after it ended"
               " (`ENDED_RETENTION_S`; every sync and `pair.list` run the check)", None,
               "The record is deleted: a late message for it is one for no attempt."),
    # The existing device E
    Transition(_IN, (None,), Event.REQUEST_RECEIVED, "Checks of §7.3; fewer than 16 incoming"
               " attempts waiting (`MAX_WAITING_INCOMING`); fewer than 16 requests taken in this"
               " sync"
               " (`MAX_REQUESTS_PER_SYNC`); fewer than 64 incoming records"
               " (`MAX_INCOMING_RECORDS`) once the oldest ended one is deleted", _RQ,
               "`expires_at = min(claimed, now + 3600)` (`MAX_TTL_S`). Notify `pair.requested`."
               " A request that fails a condition is dropped, at a cost that does not grow"
               " with the records kept."),
    Transition(_IN, (_RQ,), Event.CODE_ENTERED, "SPAKE2 accepts N's message", _AC,
               "Run SPAKE2_B; queue `pair-accept`; store `confirm_new`; flush."
               " Returns `waiting`."),
    Transition(_IN, (_RQ,), Event.CODE_REJECTED, "SPAKE2 rejects N's message", _FAIL,
               "Queue `pair-abort` to N; notify `pair.failed`; error `pairing_failed`.",
               reason="confirmation_failed", error="pairing_failed"),
    Transition(_IN, (_AC,), Event.CODE_ENTERED, "—", None,
               "Error `pairing_failed` (\"a code was already entered\").",
               error="pairing_failed"),
    Transition(_IN, (_AC,), Event.CONFIRM_RECEIVED, "Value equals `confirm_new`", _DONE,
               "One transaction: add N as peer (E's keyring went in the accept, §7.7; when it"
               " changed since, or another process of E built the accept, E queues its whole"
               " keyring to N, §9.2); queue a `member-add` naming N to **every earlier peer**"
               " (§8.4). Notify `pair.completed`."),
    Transition(_IN, (_AC,), Event.CONFIRM_FORGED, "Mismatch", _FAIL,
               "Notify `pair.failed`. No abort is sent.", reason="confirmation_failed"),
    Transition(_IN, (_RQ, _AC), Event.ABORT_RECEIVED, "From N", _FAIL, "Notify `pair.failed`.",
               reason="peer_"),
    Transition(_IN, (_RQ, _AC), Event.EXPIRY, "now ≥ `expires_at`", _EXP,
               "Notify `pair.failed(expired)`.", reason="expired"),
    Transition(_IN, (_RQ, _AC), Event.CANCEL, "—", _FAIL,
               "Queue `pair-abort(cancelled)` to N; notify `pair.failed`.", reason="cancelled"),
    Transition(_IN, (_EXP,), Event.CODE_ENTERED, "—", None, "Error `pairing_expired`.",
               error="pairing_expired"),
    Transition(_IN, (_DONE, _FAIL), Event.CODE_ENTERED, "—", None, "Error `pairing_failed`.",
               error="pairing_failed"),
    Transition(_IN, (_DONE, _FAIL, _EXP), Event.CANCEL, "—", None, "Returns the state."),
    Transition(_IN, (_DONE, _FAIL, _EXP), Event.RETENTION, "10 min after it ended", None,
               "The record is deleted."),
)
# fmt: on

_BY_KEY: dict[tuple[Direction, Phase | None, Event], Transition] = {}
for _row in TABLE:
    for _phase in _row.phases:
        key = (_row.direction, _phase, _row.event)
        assert key not in _BY_KEY, f"two transitions for {key}"
        _BY_KEY[key] = _row


def step(direction: Direction, phase: Phase | None, event: Event) -> Transition:
    """The transition for ``event`` in ``phase``; ``UnexpectedEvent`` when there is none."""
    try:
        return _BY_KEY[(direction, phase, event)]
    except KeyError:
        where = phase.value if phase else "no attempt"
        raise UnexpectedEvent(f"{event.name} in {direction.value}/{where}") from None


def markdown(direction: Direction) -> str:
    """The §7.8 table of one direction, as ``docs/protocol.md`` shows it."""
    lines = [
        "| State | Input | Condition | Next | Effects |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in TABLE:
        if row.direction is not direction:
            continue
        state = " / ".join(p.label if p else "—" for p in row.phases)
        if row.next is None:
            target = "Unchanged"
        elif row.reason:
            shown = "peer_<reason>" if row.reason == "peer_" else row.reason
            target = f"{row.next.label} (`{shown}`)"
        else:
            target = row.next.label
        lines.append(
            f"| {state} | {row.event.value} | {row.condition} | {target} | {row.effects} |"
        )
    return "\n".join(lines)


# The attempt records --------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingTarget:
    """N's SPAKE2 side towards one target. ``spake_state`` is secret until the attempt ends."""

    spake_state: bytes = field(repr=False)
    pake: bytes
    #: The accept's part count, once a part arrived; the part numbers seen.
    parts: int = 0
    seen: frozenset[int] = frozenset()
    #: Part 0's payload without its keyring (account key, devices) until the last part.
    held: Mapping[str, Any] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"spake": self.spake_state.decode("ascii"), "pake": self.pake.hex()}
        if self.parts:
            value["parts"] = self.parts
            value["seen"] = sorted(self.seen)
        if self.held is not None:
            value["held"] = dict(self.held)
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> OutgoingTarget:
        return cls(
            value["spake"].encode("ascii"),
            bytes.fromhex(value["pake"]),
            value.get("parts", 0),
            frozenset(value.get("seen", ())),
            value.get("held"),
        )


@dataclass(frozen=True)
class IncomingRequest:
    """What E keeps of N's request: N's identity and SPAKE2 message."""

    party: Party
    pake: bytes
    claimed_expiry: int


@dataclass(frozen=True)
class Attempt:
    """One pairing attempt as the store keeps it. Ended attempts keep no secret."""

    account: str
    pairing_id: str
    direction: Direction
    peer: str | None
    peer_name: str | None
    phase: Phase
    reason: str | None
    created: int
    expires_at: int
    #: Outgoing, while waiting: one SPAKE2 state per target.
    targets: Mapping[str, OutgoingTarget] = field(default_factory=dict, repr=False)
    #: Incoming, while waiting.
    request: IncomingRequest | None = field(default=None, repr=False)
    #: Incoming, once the code was entered: the confirmation N must send.
    expect: bytes | None = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        return self.phase in LIVE

    def asked(self, muaa_id: str) -> bool:
        """``muaa_id`` is this attempt's peer, or one of its targets."""
        return self.peer == muaa_id or muaa_id in self.targets

    def after(self, transition: Transition, reason: str | None = None) -> Attempt:
        """This attempt once ``transition`` happened; an ended attempt forgets its secrets."""
        phase = transition.next or self.phase
        if phase not in ENDED:
            return self
        return Attempt(
            self.account,
            self.pairing_id,
            self.direction,
            self.peer,
            self.peer_name,
            phase,
            reason or transition.reason,
            self.created,
            self.expires_at,
        )

    def data(self) -> dict[str, Any]:
        """The JSON the store keeps beside the columns (v1's, plus a target's optional
        ``parts``, ``seen`` and ``held``)."""
        if self.phase in ENDED:
            return {}
        if self.direction is Direction.OUTGOING:
            return {"targets": {muaa_id: t.to_json() for muaa_id, t in self.targets.items()}}
        assert self.request is not None
        data: dict[str, Any] = {
            "stage": self.phase.value,
            "party": self.request.party.to_json(),
            "pake": self.request.pake.hex(),
            "claimed_expiry": self.request.claimed_expiry,
        }
        if self.expect is not None:
            data["expect"] = self.expect.hex()
        return data

    @classmethod
    def from_row(
        cls,
        account: str,
        pairing_id: str,
        direction: str,
        peer: str | None,
        peer_name: str | None,
        state: str,
        reason: str | None,
        created: int,
        expires_at: int,
        data: dict[str, Any],
    ) -> Attempt:
        way = Direction(direction)
        secrets: dict[str, Any] = {}
        if state != "waiting":
            phase = Phase(state)
        elif way is Direction.OUTGOING:
            phase = Phase.WAITING
            secrets["targets"] = {
                muaa_id: OutgoingTarget.from_json(t) for muaa_id, t in data["targets"].items()
            }
        else:
            phase = Phase(data["stage"])
            secrets["request"] = IncomingRequest(
                Party.from_json(data["party"]), bytes.fromhex(data["pake"]), data["claimed_expiry"]
            )
            if "expect" in data:
                secrets["expect"] = bytes.fromhex(data["expect"])
        return cls(
            account, pairing_id, way, peer, peer_name, phase, reason, created, expires_at, **secrets
        )
