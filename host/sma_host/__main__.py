"""Entry point: ``sma-host`` as Thunderbird starts it (manifest path, add-on id, …)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any


def _configure_logging() -> None:
    level = os.environ.get("SMA_HOST_LOG", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("sma-host %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # imapclient logs whole commands and message bodies at DEBUG: never let them through.
    for noisy in ("imapclient", "imaplib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _make_backend(
    notify: Callable[[str, dict[str, Any]], None],
    schedule: Callable[[str, Callable[[], None]], None],
) -> Any:
    from .service import Host
    from .store import Store, default_data_dir

    return Host(Store(default_data_dir()), notify, schedule)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--version", "-V"):
        from . import __version__

        print(f"sma-host {__version__}")
        return 0
    # Anything else is Thunderbird's launch arguments (manifest path, add-on id, and on
    # Windows a window handle): accepted and only logged.
    os.umask(0o077)
    _configure_logging()
    logging.getLogger("sma_host").debug("started with %d argument(s)", len(args))
    from .native.stdio_loop import serve

    return serve(_make_backend)


if __name__ == "__main__":
    raise SystemExit(main())
