"""Give freed heap memory back to the system after a large batch (glibc only).

A sync of thousands of messages frees its bodies when done, but glibc keeps the freed
pages of the worker thread's arena: the host would stay at its peak for the rest of its
life (tens of MB). ``malloc_trim`` returns them. Elsewhere, or without glibc, nothing.
"""

from __future__ import annotations

import sys

#: A batch smaller than this many messages leaves too little to be worth a trim.
TRIM_AFTER = 256


def release_freed_memory() -> None:
    """Return the free pages of every malloc arena to the system."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here: only after a large batch

    try:
        trim = ctypes.CDLL(None).malloc_trim  # absent in musl: AttributeError
        trim(0)
    except (OSError, AttributeError):
        return
