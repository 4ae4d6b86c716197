"""Cut a list answer to fit one native-messaging frame."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def page_by_size(items: list[Any], offset: int, budget: int) -> tuple[list[Any], int | None]:
    """Items from ``offset`` on whose JSON totals at most ``budget`` bytes (at least one item).

    Returns the page and the offset of the next page, or None when this was the last.
    """
    return page_of(len(items), items.__getitem__, offset, budget)


def page_of(
    count: int, item_at: Callable[[int], Any], offset: int, budget: int
) -> tuple[list[Any], int | None]:
    """``page_by_size`` over ``count`` items made on demand by ``item_at(index)``: only the
    page's items are ever built (a keyring of 10,000 entries is not decoded per page)."""
    page: list[Any] = []
    used = 0
    for index in range(offset, count):
        item = item_at(index)
        size = len(json.dumps(item, ensure_ascii=False).encode("utf-8")) + 1
        if page and used + size > budget:
            return page, index
        page.append(item)
        used += size
    return page, None
