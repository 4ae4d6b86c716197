"""Compact IMAP UID sets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_host.protocol.uidset import uid_set

_PART = re.compile(r"(\d+)(?::(\d+))?")


def expand(text: str) -> list[int]:
    """RFC 3501 sequence-set (numbers and ranges only) → the UIDs it names, in order."""
    uids: list[int] = []
    for part in text.split(","):
        match = _PART.fullmatch(part)
        assert match, f"bad part {part!r} in {text!r}"
        start = int(match.group(1))
        end = int(match.group(2) or start)
        assert start < end or match.group(2) is None, f"degenerate range {part!r}"
        uids.extend(range(start, end + 1))
    return uids


def runs(uids: set[int]) -> int:
    return sum(1 for uid in uids if uid - 1 not in uids)


@pytest.mark.parametrize(
    ("uids", "text"),
    [
        ([1], "1"),
        ([1, 2, 3, 7, 9, 10], "1:3,7,9:10"),
        ([10, 9, 3, 2, 1, 7, 7], "1:3,7,9:10"),
        ([4294967295, 4294967294], "4294967294:4294967295"),
    ],
)
def test_examples(uids: list[int], text: str) -> None:
    assert uid_set(uids) == text


def test_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="^empty UID set$"):
        uid_set([])


@given(st.sets(st.integers(min_value=1, max_value=2**32 - 1), min_size=1, max_size=200))
def test_names_exactly_the_uids_in_one_part_per_run(uids: set[int]) -> None:
    text = uid_set(uids)
    expanded = expand(text)
    assert expanded == sorted(uids)  # ascending, no duplicates, nothing lost or added
    assert len(text.split(",")) == runs(uids)


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=5000))
def test_a_contiguous_run_is_one_range(start: int, length: int) -> None:
    text = uid_set(range(start, start + length))
    assert text == (f"{start}:{start + length - 1}" if length > 1 else str(start))
