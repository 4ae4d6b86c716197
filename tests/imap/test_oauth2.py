"""OAuth2 login (SASL XOAUTH2 / OAUTHBEARER) against a real Dovecot whose ``oauth2``
passdb asks a real token endpoint: ``server.token_checks(token)`` counts the logins
tried with a token, as the server saw them."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from imapclient.exceptions import LoginError

from devtools.dovecot import DovecotServer
from sma_host.errors import AuthFailed, ServerError, TokenRefused
from sma_host.imap.errors import map_imap_errors
from sma_host.imap.mailbox import ImapSettings, Mailbox
from sma_host.imap.watcher import InboxWatcher

WAIT = 15.0  # generous bound for what takes well under a second
MUAA_ID = "00000000000000aa"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot_oauthbearer() -> Iterator[DovecotServer]:
    """A server that offers OAUTHBEARER and not XOAUTH2."""
    with DovecotServer(oauth2=True, oauth2_mechanisms=("oauthbearer",)) as server:
        yield server


def fresh_user() -> str:
    return f"oauth{next(_names)}"


def token_settings(
    server: DovecotServer, user: str, token: str, security: str = "tls"
) -> ImapSettings:
    port = server.tls_port if security == "tls" else server.port
    return ImapSettings(
        server.host, port, security, user, ca_file=server.ca_file, auth="oauth2", access_token=token
    )


@contextmanager
def connected(settings: ImapSettings) -> Iterator[Mailbox]:
    mailbox = Mailbox.connect(settings)
    try:
        yield mailbox
    finally:
        mailbox.close()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def logged_in_with(server: DovecotServer, user: str, mechanism: str) -> bool:
    """Dovecot's log line for a successful login of ``user`` by ``mechanism``."""
    line = f"Login: user=<{user}>, method={mechanism},"
    return wait_until(lambda: line in server.log_text())


# ------------------------------------------------------------------------- settings


def test_settings_stay_positional_and_never_show_secrets() -> None:
    legacy = ImapSettings("imap.example.org", 993, "tls", "alice", "pw-123", "/ca.pem")
    assert (legacy.auth, legacy.access_token, legacy.ca_file) == ("password", None, "/ca.pem")
    assert legacy.secret == "pw-123"
    token = "tok-" + secrets.token_urlsafe(16)
    oauth = ImapSettings("imap.example.org", 993, "tls", "alice", auth="oauth2", access_token=token)
    assert oauth.secret == token
    assert token not in repr(oauth) and "oauth2" in repr(oauth)
    assert "pw-123" not in repr(legacy)
    with pytest.raises(ValueError, match="access token"):
        ImapSettings("h", 993, "tls", "alice", auth="oauth2")
    with pytest.raises(ValueError, match="auth method"):
        ImapSettings("h", 993, "tls", "alice", "pw", auth="kerberos")


# ---------------------------------------------------------------------------- login


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_xoauth2_login_then_folders_work(dovecot_oauth2: DovecotServer, security: str) -> None:
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    with connected(token_settings(dovecot_oauth2, user, token, security)) as mailbox:
        folder = mailbox.namespace.inbox_folder(MUAA_ID)
        assert mailbox.create_folder(folder) is True
        assert mailbox.folder_exists(folder)  # a LIST
    assert logged_in_with(dovecot_oauth2, user, "XOAUTH2")
    assert dovecot_oauth2.token_checks(token) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_oauthbearer_where_the_server_offers_only_that(
    dovecot_oauthbearer: DovecotServer, security: str
) -> None:
    user = fresh_user()
    token = dovecot_oauthbearer.issue_token(user)
    with connected(token_settings(dovecot_oauthbearer, user, token, security)) as mailbox:
        assert mailbox.create_folder("Notes") is True
        assert mailbox.folder_exists("Notes")
    assert logged_in_with(dovecot_oauthbearer, user, "OAUTHBEARER")
    assert dovecot_oauthbearer.token_checks(token) == 1


def test_a_server_without_oauth2_is_auth_failed_before_sending_the_token(
    dovecot: DovecotServer,
) -> None:
    token = "tok-" + secrets.token_urlsafe(16)
    with pytest.raises(AuthFailed, match="offers no OAuth2 login") as info:
        Mailbox.connect(token_settings(dovecot, "alice", token))
    assert not isinstance(info.value, TokenRefused)


def test_password_login_still_works_and_a_password_is_no_token(
    dovecot_oauth2: DovecotServer,
) -> None:
    alice = dovecot_oauth2.users[0]
    settings = ImapSettings(
        dovecot_oauth2.host, dovecot_oauth2.tls_port, "tls", alice.name, alice.password,
        dovecot_oauth2.ca_file,
    )  # fmt: skip
    with connected(settings) as mailbox:
        mailbox.noop()
    with pytest.raises(TokenRefused):
        Mailbox.connect(token_settings(dovecot_oauth2, alice.name, alice.password))


# ------------------------------------------------------------------------- refusals


def test_an_unknown_token_is_refused_as_auth_failed(dovecot_oauth2: DovecotServer) -> None:
    token = "never-issued-" + secrets.token_urlsafe(16)
    with pytest.raises(TokenRefused) as info:
        Mailbox.connect(token_settings(dovecot_oauth2, fresh_user(), token))
    error = info.value
    assert isinstance(error, AuthFailed) and error.reason == "auth_failed"
    assert "AUTHENTICATIONFAILED" in error.message
    assert token not in json.dumps(error.to_error_object()) and token not in repr(error)
    assert dovecot_oauth2.token_checks(token) == 1  # the server really asked about it


def test_a_token_chosen_by_the_test_logs_in(dovecot_oauth2: DovecotServer) -> None:
    """As when another fake (Thunderbird's token endpoint in e2e) hands the token out."""
    user, chosen = fresh_user(), "chosen-" + secrets.token_urlsafe(16)
    assert dovecot_oauth2.issue_token(user, chosen) == chosen
    with connected(token_settings(dovecot_oauth2, user, chosen)) as mailbox:
        mailbox.noop()


def test_a_token_logs_in_only_its_own_user(dovecot_oauth2: DovecotServer) -> None:
    token = dovecot_oauth2.issue_token(fresh_user())
    with pytest.raises(TokenRefused):
        Mailbox.connect(token_settings(dovecot_oauth2, fresh_user(), token))


def test_a_revoked_token_is_refused_at_the_next_connect(dovecot_oauth2: DovecotServer) -> None:
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    settings = token_settings(dovecot_oauth2, user, token)
    with connected(settings) as mailbox:
        dovecot_oauth2.revoke(token)
        mailbox.noop()  # IMAP checks a token at login only: the open session lives on
    with pytest.raises(TokenRefused):
        Mailbox.connect(settings)
    assert dovecot_oauth2.token_checks(token) == 2


def test_the_token_is_in_no_log_record_and_no_error_text(
    dovecot_oauth2: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("imapclient", "imaplib", "sma_host"):  # logsetup quiets imapclient
        caplog.set_level(logging.DEBUG, logger=name)
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    settings = token_settings(dovecot_oauth2, user, token, "starttls")
    with connected(settings) as mailbox:
        mailbox.folder_exists("INBOX")
    dovecot_oauth2.revoke(token)
    with pytest.raises(TokenRefused) as info:
        Mailbox.connect(settings)
    assert any(r.name.startswith("imapclient") for r in caplog.records)  # DEBUG got through
    assert token not in caplog.text
    assert token not in str(info.value) and token not in repr(settings)


def test_error_texts_are_scrubbed_of_the_token() -> None:
    """Dovecot never echoes a token; a server that does must not get it into our errors."""
    token = "tok-" + secrets.token_urlsafe(16)
    with pytest.raises(TokenRefused) as info:
        with map_imap_errors("logging in", token, refused=TokenRefused):
            raise LoginError(f"[AUTHENTICATIONFAILED] no such token: {token}")
    assert token not in info.value.message and "***" in info.value.message


def test_a_token_endpoint_that_is_down_is_server_error_not_a_refusal() -> None:
    with DovecotServer(oauth2=True) as server:
        user = fresh_user()
        token = server.issue_token(user)
        server.tokens.stop()
        with pytest.raises(ServerError, match="UNAVAILABLE") as info:
            Mailbox.connect(token_settings(server, user, token))
        assert token not in info.value.message


# -------------------------------------------------------------------------- watcher


def test_the_watcher_logs_in_with_the_token_and_pushes(dovecot_oauth2: DovecotServer) -> None:
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    settings = token_settings(dovecot_oauth2, user, token)
    pushed, gone = threading.Event(), threading.Event()
    with connected(settings) as mailbox:
        folder = mailbox.namespace.inbox_folder(MUAA_ID)
        mailbox.create_folder(folder)
        watcher = InboxWatcher(
            settings, MUAA_ID, pushed.set, gone.set, lambda: False, 60.0, "oauth2"
        )
        watcher.start()
        try:
            assert dovecot_oauth2.tokens.wait_for_checks(token, 2, WAIT)  # the watcher's login
            mailbox.append(folder, b"Subject: hello\r\n\r\nhi\r\n")
            assert pushed.wait(WAIT)
        finally:
            watcher.stop()
        assert watcher.join(WAIT)
    assert not gone.is_set()
    assert logged_in_with(dovecot_oauth2, user, "XOAUTH2")


def test_the_watcher_reports_a_refused_token_once_and_stops_trying(
    dovecot_oauth2: DovecotServer,
) -> None:
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    dovecot_oauth2.revoke(token)
    refused: list[str] = []
    other = threading.Event()
    watcher = InboxWatcher(
        token_settings(dovecot_oauth2, user, token),
        MUAA_ID,
        other.set,
        other.set,
        lambda: False,
        60.0,
        "oauth2",
        on_token_refused=lambda: refused.append(threading.current_thread().name),
    )
    watcher.start()
    try:
        # It ends by itself: no backoff loop keeps logging in with a token that cannot work.
        assert watcher.join(WAIT)
    finally:
        watcher.stop()
    assert refused == ["watch-oauth2"]
    assert dovecot_oauth2.token_checks(token) == 1
    assert not other.is_set()


def test_a_token_revoked_while_watching_is_reported_at_the_reconnect(
    dovecot_oauth2: DovecotServer,
) -> None:
    """The realistic order: the token works, expires while the watcher idles, and the
    server drops the session; the reconnect is refused, reported once, and not retried."""
    user = fresh_user()
    token = dovecot_oauth2.issue_token(user)
    settings = token_settings(dovecot_oauth2, user, token)
    with connected(settings) as mailbox:
        folder = mailbox.namespace.inbox_folder(MUAA_ID)
        mailbox.create_folder(folder)
        mailbox.append(folder, b"Subject: waiting\r\n\r\nhi\r\n")
    examined = threading.Event()  # a message waits: EXAMINE of the inbox calls back
    refused: list[int] = []
    watcher = InboxWatcher(
        settings,
        MUAA_ID,
        examined.set,
        lambda: None,
        lambda: False,
        60.0,
        "oauth2-expiring",
        on_token_refused=lambda: refused.append(1),
    )
    watcher.start()
    try:
        assert examined.wait(WAIT)  # logged in and watching
        dovecot_oauth2.revoke(token)
        dovecot_oauth2.kick(user)
        assert watcher.join(WAIT)
    finally:
        watcher.stop()
    assert refused == [1]
    # The set-up's login, the watcher's first login, and one reconnect: nothing more.
    assert dovecot_oauth2.token_checks(token) == 3
