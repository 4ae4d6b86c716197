"""The pairing state machine: the table in code, the tables in the docs, the records."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.pairing_table import render, tables_in
from sma_host.protocol import crypto
from sma_host.protocol.pairing import Party
from sma_host.protocol.pairing_states import (
    ENDED,
    LIVE,
    TABLE,
    Attempt,
    Direction,
    Event,
    IncomingRequest,
    OutgoingTarget,
    Phase,
    Transition,
    UnexpectedEvent,
    markdown,
    needs_room,
    request_refusal,
    retention_cutoff,
    step,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
IN, OUT = Direction.INCOMING, Direction.OUTGOING
NOW = 1_767_225_600  # 2026-01-01


def test_the_docs_show_exactly_the_table_in_code() -> None:
    text = DOC.read_text("utf-8")
    assert tables_in(text) == {d.value: markdown(d) + "\n" for d in Direction}, (
        "docs/protocol.md §7.8 differs from protocol/pairing_states.TABLE:"
        " run python -m devtools.pairing_table"
    )
    assert render(text) == text


def test_every_phase_and_event_is_a_transition_or_refused() -> None:
    listed = 0
    for direction, phase, event in itertools.product(Direction, [None, *Phase], Event):
        try:
            row = step(direction, phase, event)
        except UnexpectedEvent as exc:
            assert event.name in str(exc)
            continue
        listed += 1
        assert row.direction is direction and phase in row.phases and row.event is event
    assert listed == sum(len(row.phases) for row in TABLE)


def test_phases_belong_to_their_direction() -> None:
    for row in TABLE:
        reachable = {row.next, *row.phases} - {None}
        if row.direction is OUT:
            assert not reachable & {Phase.REQUESTED, Phase.ACCEPTED}, row
        else:
            assert Phase.WAITING not in reachable, row


def test_ended_attempts_never_come_back_to_life() -> None:
    for row in TABLE:
        if set(row.phases) & ENDED:
            assert row.next is None, row


def test_a_code_counts_once() -> None:
    assert step(IN, Phase.REQUESTED, Event.CODE_ENTERED).next is Phase.ACCEPTED
    assert step(IN, Phase.ACCEPTED, Event.CODE_ENTERED).error == "pairing_failed"
    assert step(IN, Phase.EXPIRED, Event.CODE_ENTERED).error == "pairing_expired"
    assert step(IN, Phase.FAILED, Event.CODE_ENTERED).error == "pairing_failed"
    with pytest.raises(UnexpectedEvent):
        step(IN, Phase.REQUESTED, Event.CONFIRM_RECEIVED)  # no code entered yet
    with pytest.raises(UnexpectedEvent):
        step(OUT, Phase.COMPLETE, Event.ACCEPT_RECEIVED)  # a replayed accept


def test_a_late_accept_changes_nothing_and_the_expiry_check_ends_it() -> None:
    assert step(OUT, Phase.WAITING, Event.ACCEPT_LATE).next is None
    assert step(OUT, Phase.WAITING, Event.EXPIRY).next is Phase.EXPIRED


def _party() -> Party:
    identity = crypto.Identity.generate()
    return Party("0123456789abcdef", "Laptop", identity.sign_public, identity.dh_public)


def _outgoing() -> Attempt:
    targets = {"fedcba9876543210": OutgoingTarget(b'{"spake": "secret"}', b"\x01" * 33)}
    return Attempt(
        "acct1", "00112233aabbccdd", OUT, None, None, Phase.WAITING, None, NOW, NOW + 600,
        targets=targets,
    )  # fmt: skip


def _incoming(phase: Phase = Phase.REQUESTED, expect: bytes | None = None) -> Attempt:
    request = IncomingRequest(_party(), b"\x02" * 33, NOW + 900)
    return Attempt(
        "acct1", "00112233aabbccdd", IN, "0123456789abcdef", "Laptop", phase, None, NOW,
        NOW + 600, request=request, expect=expect,
    )  # fmt: skip


def _from_store(attempt: Attempt) -> Attempt:
    return Attempt.from_row(
        attempt.account,
        attempt.pairing_id,
        attempt.direction.value,
        attempt.peer,
        attempt.peer_name,
        attempt.phase.state,
        attempt.reason,
        attempt.created,
        attempt.expires_at,
        attempt.data(),
    )


@pytest.mark.parametrize(
    "attempt",
    [_outgoing(), _incoming(), _incoming(Phase.ACCEPTED, b"\x03" * 32)],
    ids=["outgoing", "requested", "accepted"],
)
def test_attempts_survive_the_store(attempt: Attempt) -> None:
    assert attempt.live
    assert _from_store(attempt) == attempt


@pytest.mark.parametrize("phase", list(Phase))
def test_an_attempt_is_live_until_it_ends(phase: Phase) -> None:
    # A bool, not a method: pairing_messages drops a message whose attempt is not live.
    assert replace(_outgoing(), phase=phase).live is (phase not in ENDED)


def _in_parts() -> Attempt:
    """N's attempt once part 0 of 2 of T's accept arrived (pairing v2)."""
    held = {"account_key": {"keydata": "secret-key"}, "devices": [{"muaa_id": "0123"}]}
    target = OutgoingTarget(b'{"spake": "secret"}', b"\x01" * 33, 2, frozenset({0}), held)
    return replace(_outgoing(), targets={"fedcba9876543210": target})


def test_a_target_between_parts_keeps_them_in_the_store() -> None:
    attempt = _in_parts()
    assert attempt.data() == {
        "targets": {
            "fedcba9876543210": {
                "spake": '{"spake": "secret"}',
                "pake": "01" * 33,
                "parts": 2,
                "seen": [0],
                "held": {
                    "account_key": {"keydata": "secret-key"},
                    "devices": [{"muaa_id": "0123"}],
                },
            }
        }
    }
    back = _from_store(attempt).targets["fedcba9876543210"]
    assert (back.parts, back.seen, back.held) == (
        2,
        frozenset({0}),
        attempt.targets["fedcba9876543210"].held,
    )
    assert _from_store(attempt) == attempt


def test_the_stored_json_keeps_its_format() -> None:
    """Databases written before the table existed are read the same way."""
    assert _outgoing().data() == {
        "targets": {"fedcba9876543210": {"spake": '{"spake": "secret"}', "pake": "01" * 33}}
    }
    data = _incoming(Phase.ACCEPTED, b"\x03" * 32).data()
    assert data["stage"] == "accepted" and data["expect"] == "03" * 32
    assert data["claimed_expiry"] == NOW + 900 and data["pake"] == "02" * 33


@pytest.mark.parametrize("event", [Event.CANCEL, Event.EXPIRY, Event.ABORT_RECEIVED])
def test_an_ended_attempt_forgets_its_secrets(event: Event) -> None:
    for attempt in (_outgoing(), _incoming(Phase.ACCEPTED, b"\x03" * 32)):
        ended = attempt.after(step(attempt.direction, attempt.phase, event), reason="peer_x")
        assert ended.phase in ENDED and ended.phase not in LIVE
        assert ended.data() == {} and ended.targets == {} and ended.request is None
        assert ended.expect is None and ended.reason == "peer_x"
        assert _from_store(ended) == ended


def test_a_transition_that_keeps_the_phase_keeps_the_attempt() -> None:
    attempt = _incoming(Phase.ACCEPTED, b"\x03" * 32)
    assert attempt.after(step(IN, Phase.ACCEPTED, Event.CODE_ENTERED)) is attempt


def test_asked_names_the_peer_or_a_target() -> None:
    assert _outgoing().asked("fedcba9876543210") and not _outgoing().asked("0123456789abcdef")
    assert _incoming().asked("0123456789abcdef")
    assert not replace(_incoming(), peer=None).asked("0123456789abcdef")


def test_the_wire_state_of_each_phase() -> None:
    assert {p.state for p in LIVE} == {"waiting"}
    assert [p.state for p in (Phase.COMPLETE, Phase.FAILED, Phase.EXPIRED)] == [
        "complete",
        "failed",
        "expired",
    ]


def test_no_secret_shows_in_a_repr() -> None:
    outgoing, accepted = _outgoing(), _incoming(Phase.ACCEPTED, b"\x03" * 32)
    text = repr(outgoing) + repr(accepted) + repr(outgoing.targets["fedcba9876543210"])
    text += repr(_in_parts().targets["fedcba9876543210"])
    for secret in (b'{"spake": "secret"}', b"\x03" * 32):  # the SPAKE2 state, the expected confirm
        assert repr(secret) not in text
    assert "targets=" not in text and "request=" not in text and "expect=" not in text
    assert "held=" not in text and "secret-key" not in text  # part 0's account key


@pytest.mark.parametrize(
    "value",
    [
        _outgoing(),
        _outgoing().targets["fedcba9876543210"],
        IncomingRequest(_party(), b"p", NOW),
        TABLE[0],
    ],
    ids=lambda v: type(v).__name__,
)
def test_records_are_immutable(value: object) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.pake = b""  # type: ignore[attr-defined]


def test_unexpected_event_names_the_event_and_where() -> None:
    with pytest.raises(UnexpectedEvent, match=r"^CONFIRM_RECEIVED in outgoing/no attempt$"):
        step(OUT, None, Event.CONFIRM_RECEIVED)


def test_a_rejected_code_fails_the_attempt_with_the_wire_reasons() -> None:
    transition = step(IN, Phase.REQUESTED, Event.CODE_REJECTED)
    assert (transition.reason, transition.error) == ("confirmation_failed", "pairing_failed")


# The limits against a flood of pairing messages (the REQUEST_RECEIVED and RETENTION rows).


def test_ended_attempts_are_kept_ten_minutes() -> None:
    # The store deletes an attempt whose ended_at stamp is at or before the cutoff.
    assert retention_cutoff(NOW) == NOW - 600
    assert retention_cutoff(NOW + 600) == NOW


def test_sixteen_requests_are_taken_per_sync() -> None:
    assert request_refusal(0, 0) is None
    assert request_refusal(15, 0) is None
    assert request_refusal(16, 0) == "too many requests in this sync"
    assert request_refusal(17, 15) == "too many requests in this sync"


def test_sixteen_incoming_attempts_wait_at_most() -> None:
    assert request_refusal(0, 15) is None
    assert request_refusal(15, 15) is None
    assert request_refusal(0, 16) == "too many waiting requests"
    assert request_refusal(3, 17) == "too many waiting requests"


def test_sixty_four_incoming_records_are_kept_at_most() -> None:
    assert not needs_room(0)
    assert not needs_room(63)
    assert needs_room(64)
    assert needs_room(65)


def test_only_an_ended_attempt_has_a_reason_and_only_a_refusal_an_error() -> None:
    reasons = {None, "confirmation_failed", "peer_", "expired", "cancelled"}
    errors = {None, "pairing_failed", "pairing_expired"}
    assert {row.reason for row in TABLE} == reasons
    assert {row.error for row in TABLE} == errors
    for row in TABLE:
        assert (row.reason is None) == (row.next not in (Phase.FAILED, Phase.EXPIRED))
    # The defaults are None, not an empty string: a completed attempt is stored with no
    # reason, and a transition that refuses nothing has no error.
    plain = Transition(OUT, (Phase.WAITING,), Event.CANCEL, "—", None, "—")
    assert plain.reason is None and plain.error is None
    done = _outgoing().after(step(OUT, Phase.WAITING, Event.ACCEPT_RECEIVED))
    assert done.phase is Phase.COMPLETE and done.reason is None
    assert step(IN, Phase.REQUESTED, Event.CODE_ENTERED).error is None
