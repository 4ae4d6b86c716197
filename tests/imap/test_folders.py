"""CREATE and DELETE decided from the server's answers (a response code, else LIST), never
from their wording: on every server of the matrix (devtools/servers.py)."""

from __future__ import annotations

import threading

import pytest

from sma_host.errors import ServerError
from sma_host.imap.mailbox import ImapSettings, Mailbox
from tests.conftest import Account


def connect(account: Account) -> Mailbox:
    server = account.server
    settings = ImapSettings(
        server.host,
        server.tls_port,
        "tls",
        account.user.name,
        account.user.password,
        ca_file=server.ca_file,
    )
    return Mailbox.connect(settings)


def test_create_twice_is_created_then_existing(matrix_account: Account) -> None:
    mailbox = connect(matrix_account)
    try:
        name = mailbox.namespace.announcement_folder()
        assert mailbox.create_folder(name) is True
        assert mailbox.create_folder(name) is False  # refused because it exists: success
        assert mailbox.folder_exists(name)
    finally:
        mailbox.close()


def test_concurrent_create_one_creates_both_succeed(matrix_account: Account) -> None:
    first, second = connect(matrix_account), connect(matrix_account)
    try:
        name = first.namespace.inbox_folder("00000000000000c1")
        results: list[bool] = []
        barrier = threading.Barrier(2)

        def create(mailbox: Mailbox) -> None:
            barrier.wait()
            results.append(mailbox.create_folder(name))

        threads = [threading.Thread(target=create, args=(m,)) for m in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [False, True]
    finally:
        first.close()
        second.close()


def test_delete_present_then_gone(matrix_account: Account) -> None:
    mailbox = connect(matrix_account)
    try:
        name = mailbox.namespace.inbox_folder("00000000000000d1")
        mailbox.create_folder(name)
        assert mailbox.delete_folder(name) is True
        assert not mailbox.folder_exists(name)
        assert mailbox.delete_folder(name) is False  # already gone: no error
    finally:
        mailbox.close()


def test_a_refusal_for_another_reason_still_fails(matrix_account: Account) -> None:
    """A CREATE refused for another reason (here a name too long for every server) is an
    error, not "already there": LIST does not show the name."""
    mailbox = connect(matrix_account)
    try:
        name = mailbox.namespace.announcement_folder() + "_" + "x" * 1000
        with pytest.raises(ServerError):
            mailbox.create_folder(name)
        assert not mailbox.folder_exists(name)
    finally:
        mailbox.close()
