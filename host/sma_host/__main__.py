"""Entry point: ``sma-host`` as Thunderbird starts it (manifest path, add-on id, …)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # the launch imports no typing: `hello` is answered before any of it
    from collections.abc import Callable, Sequence
    from typing import Any


def _make_backend(
    notify: Callable[[str, dict[str, Any]], None],
    schedule: Callable[[str, Callable[[], None]], None],
) -> Any:
    from . import logsetup
    from .service import Host
    from .store import Store, default_data_dir

    logsetup.configure()
    data_dir = default_data_dir()
    logsetup.LazyLogger("sma_host").debug("first account call: state in %s", data_dir)

    host = Host(Store(data_dir), notify, schedule)
    host.resume_accounts()
    return host


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("install", "uninstall", "doctor"):
        from .install import main as install_main

        return install_main(args)
    if args and args[0] in ("--version", "-V"):
        from . import __version__

        print(f"sma-host {__version__}")
        return 0
    # Anything else is Thunderbird's launch arguments (manifest path, add-on id, and on
    # Windows a window handle): accepted and ignored.
    os.umask(0o077)
    from .native.stdio_loop import serve

    return serve(_make_backend)


if __name__ == "__main__":
    raise SystemExit(main())
