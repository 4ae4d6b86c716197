"""Logging to stderr, set up on first use: importing ``logging`` costs a ``hello`` at
start-up more than the rest of the fast path together."""

from __future__ import annotations

import sys
import threading

#: ``typing`` is not imported at run time on the way to ``hello`` (cold start); mypy
#: reads the imports below all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_lock = threading.Lock()
_done = False


def configure() -> None:
    """Send every record to stderr (Thunderbird's Error Console); idempotent."""
    global _done
    with _lock:
        if _done:
            return
        import logging

        from .config import CONFIG

        level = CONFIG.log_level
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("sma-host %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
        # imapclient logs whole commands and message bodies at DEBUG: never let them through.
        for noisy in ("imapclient", "imaplib"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        for warning in CONFIG.warnings:
            logging.getLogger("sma_host.config").warning("%s", warning)
        _done = True


class LazyLogger:
    """A stand-in for ``logging.getLogger(name)`` that imports logging when first used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        configure()
        import logging

        return getattr(logging.getLogger(self._name), attribute)
