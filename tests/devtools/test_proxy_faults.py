"""The proxy's self-acting faults against a real Dovecot: a cut before or after a chosen
command's reply (the server did the command either way), a stall, a slow link."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from devtools.dovecot import DovecotServer
from devtools.imap_proxy import ImapProxy
from tests.conftest import Account
from tests.devtools.test_imap_proxy import connected, direct


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[ImapProxy]:
    with ImapProxy(dovecot.host, dovecot.port) as p:
        yield p


def test_a_cut_before_the_reply_keeps_the_effect_and_loses_the_answer(
    proxy: ImapProxy, account: Account, dovecot: DovecotServer
) -> None:
    cut = proxy.cut_at("CREATE", 1, "before_reply")
    with connected(proxy, account.user) as client, pytest.raises(Exception):  # noqa: B017
        client.create_folder("made")  # the answer never comes: the connection drops
    assert cut.replied.wait(10)
    with direct(dovecot, account.user) as check:
        assert check.folder_exists("made")


def test_a_cut_after_the_reply_delivers_it_then_drops(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user) as client:
        proxy.cut_at("*", 1, "after_reply")  # any command: the next one
        client.noop()
        with pytest.raises(Exception):  # noqa: B017
            client.noop()
    with connected(proxy, account.user) as client:  # new connections are not affected
        client.noop()


def test_a_stall_silences_current_connections_only(proxy: ImapProxy, account: Account) -> None:
    client = IMAPClient(proxy.host, port=proxy.port, ssl=False, timeout=1.0)
    client.login(account.user.name, account.user.password)
    proxy.stall_all()
    with pytest.raises(Exception):  # noqa: B017 (a socket timeout, as imaplib words it)
        client.noop()
    client.shutdown()
    with connected(proxy, account.user) as fresh:
        fresh.noop()


def test_a_slow_link_delivers_a_byte_at_a_time(proxy: ImapProxy, account: Account) -> None:
    with connected(proxy, account.user) as client:
        proxy.slow_s = 0.01
        started = time.monotonic()
        client.noop()  # "tag OK NOOP completed (...)": over 20 bytes
        assert time.monotonic() - started > 0.2
        proxy.slow_s = 0.0
