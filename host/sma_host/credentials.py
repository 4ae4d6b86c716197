"""IMAP passwords in the OS keyring (Secret Service, macOS Keychain, Windows Credential
Locker) through ``keyring`` — or nowhere but memory.

Only a real OS store counts: a backend that writes a plaintext or weakly encrypted file
(``keyrings.alt``) is used only when the user selected it explicitly with
``PYTHON_KEYRING_BACKEND``. Passwords never reach the database, the log or the add-on.
"""

from __future__ import annotations

import threading
from typing import Any

from .logsetup import LazyLogger

log = LazyLogger(__name__)

SERVICE = "sma-host"
_ACCEPTED_PREFIX = "keyring.backends."
_REFUSED = ("keyring.backends.fail", "keyring.backends.null")


class PasswordVault:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend: Any = None
        self._checked = False
        self.unavailable_reason: str | None = None

    def _keyring(self) -> Any:
        with self._lock:
            if not self._checked:
                self._checked = True
                self._backend = self._find_backend()
            return self._backend

    def _find_backend(self) -> Any:
        try:
            import keyring
            from keyring.backends.chainer import ChainerBackend

            backend = keyring.get_keyring()
        except Exception as exc:  # no package, or a backend that fails to load
            self.unavailable_reason = f"the keyring package cannot be used ({type(exc).__name__})"
            return None
        from .config import CONFIG

        explicit = CONFIG.keyring_backend_chosen
        chain = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
        if not chain:
            self.unavailable_reason = "no OS keyring is available"
            return None
        for member in chain:  # a chain may hold a file backend behind an OS one
            module = type(member).__module__
            if module.startswith(_REFUSED) or (
                not module.startswith(_ACCEPTED_PREFIX) and not explicit
            ):
                name = type(member).__name__
                self.unavailable_reason = f"no secure OS keyring is available ({name})"
                return None
        return backend

    @property
    def available(self) -> bool:
        return self._keyring() is not None

    def store(self, key: str, password: str) -> bool:
        backend = self._keyring()
        if backend is None:
            return False
        try:
            backend.set_password(SERVICE, key, password)
        except Exception as exc:  # a locked or refusing store: fall back to memory
            self.unavailable_reason = f"the OS keyring refused to store it ({type(exc).__name__})"
            log.warning("could not store the password in the OS keyring: %s", type(exc).__name__)
            return False
        return True

    def load(self, key: str) -> str | None:
        backend = self._keyring()
        if backend is None:
            return None
        try:
            value = backend.get_password(SERVICE, key)
        except Exception as exc:
            log.warning("could not read the OS keyring: %s", type(exc).__name__)
            return None
        return value if isinstance(value, str) else None

    def forget(self, key: str) -> bool:
        """Delete the entry; True when it is gone (deleted, or not there), False when the
        keyring could not be asked or refused (locked): then it may still hold it."""
        backend = self._keyring()
        if backend is None:
            return False
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(SERVICE, key)
        except PasswordDeleteError:  # not there
            return True
        except Exception as exc:
            log.warning("could not delete from the OS keyring: %s", type(exc).__name__)
            return False
        return True


def vault_key(account: str, username: str, host: str, port: int) -> str:
    """One entry per add-on account and server login."""
    return f"{account}|{username}@{host}:{port}"
