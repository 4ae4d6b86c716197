"""Accounts: ``account.configure`` (server and password) and resuming at start-up. The
account key is ``account_key.py``."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from ..credentials import PasswordVault
from ..errors import HostError, InsecureRefused, InvalidParams
from ..imap.mailbox import Mailbox, is_loopback
from ..store import AccountSettings, Store
from .context import AccountSession, Sessions, imap_settings, password_key
from .push import Push, Schedule

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Accounts:
    store: Store
    sessions: Sessions
    vault: PasswordVault
    push: Push
    schedule: Schedule | None

    def configure(self, params: dict[str, Any]) -> dict[str, Any]:
        """``account.configure``: log in once to check the settings, then keep them."""
        imap = params["imap"]
        if imap["security"] == "none" and not is_loopback(imap["host"]):
            raise InsecureRefused(
                "plaintext IMAP is refused for a host that is not loopback: use tls or starttls",
                host=imap["host"],
            )
        settings = AccountSettings(
            account=params["account"],
            email=params["email"],
            device_name=params["device_name"],
            imap_host=imap["host"],
            imap_port=imap["port"],
            security=imap["security"],
            username=imap["username"],
            ca_file=imap.get("ca_file"),
        )
        auth: str = imap.get("auth", "password")
        password: str | None = imap.get("password")
        token: str | None = imap.get("access_token")
        mailbox = Mailbox.connect(imap_settings(settings, password, auth, token))
        self.store.save_account(settings)
        session = AccountSession(settings, password, auth=auth, access_token=token)
        self.sessions.replace(session)
        self.sessions.use(session, mailbox)
        remember = bool(params.get("remember"))
        if password is None:  # a token is never remembered, and a password no longer used
            self._forget_password(settings.account)
            storage = "memory"
        else:
            storage = self._remember_password(settings, password, remember)
        membership = self.store.membership(settings.account)
        if membership is not None and not membership.removed:
            self.push.start(session, membership.muaa_id)
        log.info(
            "account %s configured (%s:%d, %s)",
            settings.account,
            settings.imap_host,
            settings.imap_port,
            settings.security,
        )
        result: dict[str, Any] = {
            "account": settings.account,
            "capabilities": mailbox.capabilities,
            "password_storage": storage,
        }
        if remember and password is not None and storage != "keyring":
            result["keyring_unavailable"] = self.vault.unavailable_reason or "unknown"
        return result

    def _remember_password(self, settings: AccountSettings, password: str, remember: bool) -> str:
        """Keep the password in the OS keyring when asked and possible; else memory only."""
        key = password_key(settings)
        stored = self.store.keyring_entry(settings.account)
        if remember and self.vault.store(key, password):
            if stored is not None and stored != key:
                # The login changed. The record can name one entry, and the new one is
                # what the next start needs: a refused deletion of the old is logged.
                self.vault.forget(stored)
            self.store.set_keyring_entry(settings.account, key)
            return "keyring"
        # Not remembered, or the keyring refused the new password: an older one it holds
        # must not come back at the next start.
        self._forget_password(settings.account)
        return "memory"

    def _forget_password(self, account: str) -> None:
        """Delete the password this host stored for the account, if it ever stored one
        (an account that never had one does not even load the keyring package). The
        record goes only once the entry is gone: a locked keyring is asked again later."""
        stored = self.store.keyring_entry(account)
        if stored is not None and self.vault.forget(stored):
            self.store.set_keyring_entry(account, None)

    def resume_all(self) -> None:
        """At start-up: accounts whose password the OS keyring remembers get their watcher
        back (on their own worker) without waiting for the add-on to configure them again."""
        if self.schedule is None:
            return
        for account in self.store.accounts():
            self.schedule(account, functools.partial(self._resume, account))

    def _resume(self, account: str) -> None:
        membership = self.store.membership(account)
        if membership is None or membership.removed:
            return
        session = self.sessions.get(account)
        if not session.has_credentials or session.watcher is not None:
            return
        try:
            self.push.start(session, membership.muaa_id)
        except HostError as exc:
            log.info("account %s: not watching yet: %s", account, exc.reason)

    def token(self, params: dict[str, Any]) -> dict[str, Any]:
        """``account.token``: a fresh OAuth2 token; the host logs in with it at once and
        the watcher starts again."""
        session = self.sessions.get(params["account"])
        if session.auth != "oauth2" and session.password is not None:
            raise InvalidParams(
                "this account logs in with a password: account.configure changes how",
                path="$.access_token",
            )
        token: str = params["access_token"]
        mailbox = Mailbox.connect(imap_settings(session.settings, None, "oauth2", token))
        session.close_mailbox()
        session.auth, session.access_token, session.password = "oauth2", token, None
        self.sessions.use(session, mailbox)
        session.token_refused = False
        membership = self.store.membership(session.account)
        if membership is not None and not membership.removed:
            self.push.start(session, membership.muaa_id)
        log.info("account %s: new access token", session.account)
        return {"account": session.account}
