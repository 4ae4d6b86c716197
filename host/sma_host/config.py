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


class Config(NamedTuple):
    #: ``SMA_HOST_DATA_DIR``: where the database lives; None for the platform's default.
    data_dir: Path | None = None
    #: ``SMA_HOST_LOG``: the log level on stderr.
    log_level: str = "INFO"
    #: ``SMA_HOST_PUSH=off``: no watcher connection; the inbox is read on ``sma.sync`` only.
    push: bool = True
    #: ``SMA_HOST_POLL_S``: seconds between background syncs on a server without IDLE.
    poll_interval: float = DEFAULT_POLL_S
    #: ``PYTHON_KEYRING_BACKEND``: the user chose a keyring backend (the keyring package's
    #: own setting); only then may a file backend hold passwords.
    keyring_backend_chosen: bool = False
    #: Settings that were present but unusable, for a warning once logging is up.
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        poll, warnings = _poll_interval(env.get("SMA_HOST_POLL_S"))
        data_dir = env.get(DATA_DIR_ENV)
        return cls(
            data_dir=Path(data_dir) if data_dir else None,
            log_level=env.get("SMA_HOST_LOG", "INFO").upper(),
            push=env.get("SMA_HOST_PUSH", "on").lower() not in ("off", "0", "no"),
            poll_interval=poll,
            keyring_backend_chosen=bool(env.get("PYTHON_KEYRING_BACKEND")),
            warnings=warnings,
        )


def _poll_interval(setting: str | None) -> tuple[float, tuple[str, ...]]:
    """``SMA_HOST_POLL_S`` as seconds within 1…3600; the default when unset or not a number."""
    if setting is None:
        return DEFAULT_POLL_S, ()
    try:
        seconds = float(setting)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        why = f"SMA_HOST_POLL_S={setting!r} is not a number of seconds: using {DEFAULT_POLL_S}"
        return DEFAULT_POLL_S, (why,)
    return min(max(seconds, 1.0), 3600.0), ()


#: Read once, when first imported.
CONFIG = Config.from_environ()
