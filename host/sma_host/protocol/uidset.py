"""IMAP UID sets (RFC 3501 ``sequence-set``) in their compact form."""

from __future__ import annotations

from collections.abc import Iterable


def uid_set(uids: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` → ``"1:3,7,9:10"``; the command stays short for contiguous runs."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    parts: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid != previous + 1:
            parts.append(f"{start}:{previous}" if previous != start else str(start))
            start = uid
        previous = uid
    parts.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(parts)
