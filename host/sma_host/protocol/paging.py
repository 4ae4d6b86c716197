"""Cut a list answer to fit one native-messaging frame."""

from __future__ import annotations

import json
from typing import Any


def page_by_size(items: list[Any], offset: int, budget: int) -> tuple[list[Any], int | None]:
    """Items from ``offset`` on whose JSON totals at most ``budget`` bytes (at least one item).

    Returns the page and the offset of the next page, or None when this was the last.
    """
    page: list[Any] = []
    used = 0
    for index in range(offset, len(items)):
        size = len(json.dumps(items[index], ensure_ascii=False).encode("utf-8")) + 1
        if page and used + size > budget:
            return page, index
        page.append(items[index])
        used += size
    return page, None
