"""A keyring backend for the tests (``PYTHON_KEYRING_BACKEND``): passwords in a JSON file,
and every call the host makes written as one line to ``KEYRING_PROBE_LOG`` (and a
``loaded`` line when ``keyring`` loads this module), so a test sees whether the host
touched the OS keyring at all. ``KEYRING_PROBE_REFUSE=set`` or ``delete`` makes that
operation fail as a locked keyring would."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

with open(os.environ["KEYRING_PROBE_LOG"], "a", encoding="utf-8") as _log:
    _log.write("loaded -\n")


class ProbeKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _log(self, operation: str, username: str) -> None:
        with open(os.environ["KEYRING_PROBE_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{operation} {username}\n")

    def _stored(self) -> dict[str, str]:
        path = Path(os.environ["KEYRING_PROBE_LOG"] + ".json")
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return stored

    def _save(self, stored: dict[str, str]) -> None:
        Path(os.environ["KEYRING_PROBE_LOG"] + ".json").write_text(json.dumps(stored))

    def get_password(self, service: str, username: str) -> str | None:
        self._log("get", username)
        return self._stored().get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._log("set", username)
        if os.environ.get("KEYRING_PROBE_REFUSE") == "set":
            raise PasswordSetError("locked")
        self._save({**self._stored(), username: password})

    def delete_password(self, service: str, username: str) -> None:
        self._log("delete", username)
        if os.environ.get("KEYRING_PROBE_REFUSE") == "delete":
            raise RuntimeError("locked")
        stored = self._stored()
        if username not in stored:
            raise PasswordDeleteError("not there")
        del stored[username]
        self._save(stored)
