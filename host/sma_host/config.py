"""The host's settings from the environment, read once at start-up.

Kept free of heavy imports (no logging, no dataclasses): ``hello`` must answer fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

DATA_DIR_ENV = "SMA_HOST_DATA_DIR"
#: Poll interval where the server has no IDLE (seconds; ``SMA_HOST_POLL_S`` overrides).
DEFAULT_POLL_S = 60.0
#: A server silent this long while an answer is owed is taken as gone (``SMA_HOST_STALL_S``).
DEFAULT_STALL_S = 30.0
#: The command connection is closed after this long unused (``SMA_HOST_COMMAND_IDLE_S``
#: may shorten it, never lengthen it: the connection budget, docs/protocol.md §11).
COMMAND_IDLE_S = 30.0


class Config(NamedTuple):
    #: ``SMA_HOST_DATA_DIR``: where the database lives; None for the platform's default.
    data_dir: Path | None = None
    #: ``SMA_HOST_LOG``: the log level on stderr.
    log_level: str = "INFO"
    #: ``SMA_HOST_PUSH=off``: no watcher connection; the inbox is read on ``sma.sync`` only.
    push: bool = True
    #: ``SMA_HOST_POLL_S``: seconds between background syncs on a server without IDLE.
    poll_interval: float = DEFAULT_POLL_S
    #: ``SMA_HOST_STALL_S``: the read timeout of every IMAP connection (seconds, 1–600).
    stall_s: float = DEFAULT_STALL_S
    #: ``SMA_HOST_COMMAND_IDLE_S``: seconds unused after which the command connection
    #: closes (1–30).
    command_idle_s: float = COMMAND_IDLE_S
    #: ``PYTHON_KEYRING_BACKEND``: the user chose a keyring backend (the keyring package's
    #: own setting); only then may a file backend hold passwords.
    keyring_backend_chosen: bool = False
    #: Settings that were present but unusable, for a warning once logging is up.
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        poll, warnings = _seconds("SMA_HOST_POLL_S", env, DEFAULT_POLL_S, 3600.0)
        stall, stall_warnings = _seconds("SMA_HOST_STALL_S", env, DEFAULT_STALL_S, 600.0)
        idle, idle_warnings = _seconds("SMA_HOST_COMMAND_IDLE_S", env, COMMAND_IDLE_S, 30.0)
        data_dir = env.get(DATA_DIR_ENV)
        return cls(
            data_dir=Path(data_dir) if data_dir else None,
            log_level=env.get("SMA_HOST_LOG", "INFO").upper(),
            push=env.get("SMA_HOST_PUSH", "on").lower() not in ("off", "0", "no"),
            poll_interval=poll,
            stall_s=stall,
            command_idle_s=idle,
            keyring_backend_chosen=bool(env.get("PYTHON_KEYRING_BACKEND")),
            warnings=warnings + stall_warnings + idle_warnings,
        )


def _seconds(
    name: str, env: Mapping[str, str], default: float, most: float
) -> tuple[float, tuple[str, ...]]:
    """Setting ``name`` as seconds within 1…``most``; the default when unset or not a number."""
    setting = env.get(name)
    if setting is None:
        return default, ()
    try:
        seconds = float(setting)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        return default, (f"{name}={setting!r} is not a number of seconds: using {default}",)
    return min(max(seconds, 1.0), most), ()


#: Read once, when first imported.
CONFIG = Config.from_environ()
