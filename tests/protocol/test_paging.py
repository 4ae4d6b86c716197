"""Cutting list answers into pages that fit one native-messaging frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_host.protocol.paging import page_by_size


def size(item: Any) -> int:
    """Bytes the item takes inside a JSON list on the wire (UTF-8, compact), plus a comma."""
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1


def all_pages(items: list[Any], budget: int) -> list[list[Any]]:
    pages, offset = [], 0
    while True:
        page, next_offset = page_by_size(items, offset, budget)
        pages.append(page)
        if next_offset is None:
            return pages
        assert next_offset == offset + len(page)
        offset = next_offset


items_strategy = st.lists(
    st.one_of(
        st.integers(),
        st.text(max_size=40),
        st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
    ),
    max_size=60,
)


@given(items_strategy, st.integers(min_value=1, max_value=400))
def test_pages_are_lossless_and_within_budget(items: list[Any], budget: int) -> None:
    pages = all_pages(items, budget)
    assert [item for page in pages for item in page] == items
    for page in pages:
        if len(page) > 1:
            assert sum(size(item) for item in page) <= budget
    if items:
        assert all(page for page in pages)  # progress: at least one item per page
    else:
        assert pages == [[]]


@given(
    st.lists(st.one_of(st.integers(), st.text(max_size=40)), max_size=60),
    st.integers(min_value=1, max_value=400),
)
def test_pages_are_as_full_as_the_budget_allows(items: list[Any], budget: int) -> None:
    # Scalars only: for objects the page may measure with a little slack (", " vs ",").
    pages = all_pages(items, budget)
    for page, following in zip(pages, pages[1:], strict=False):
        # The next page's first item did not fit: the cut is not premature.
        assert sum(size(item) for item in page) + size(following[0]) > budget


def test_one_item_larger_than_the_budget_still_makes_a_page() -> None:
    items = ["x" * 100, "y", "z"]
    assert page_by_size(items, 0, 10) == (["x" * 100], 1)
    assert page_by_size(items, 1, 10) == (["y", "z"], None)


def test_multibyte_text_counts_in_utf8_bytes() -> None:
    # 10 four-byte characters: 40 bytes of UTF-8, but only 10 characters.
    items = ["😀" * 10] * 3
    page, next_offset = page_by_size(items, 0, 2 * size(items[0]))
    assert (len(page), next_offset) == (2, 2)


@pytest.mark.parametrize("offset", [3, 4, 100])
def test_offset_at_or_past_the_end_is_an_empty_last_page(offset: int) -> None:
    assert page_by_size([1, 2, 3], offset, 100) == ([], None)


def test_each_item_counts_its_json_and_one_separator_byte() -> None:
    # '"a"' is 3 bytes, plus 1 for the comma that joins it to the next: 4 bytes each.
    assert page_by_size(["a", "b", "c"], 0, 8) == (["a", "b"], 2)
    assert page_by_size(["a", "b", "c"], 0, 7) == (["a"], 1)
    assert page_by_size(["a", "b", "c"], 0, 12) == (["a", "b", "c"], None)
