"""Fixtures of the reliability tests: a counting, fault-injecting proxy before the
module's Dovecot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.dovecot import DovecotServer
from devtools.imap_proxy import ImapProxy


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[ImapProxy]:
    with ImapProxy(dovecot.host, dovecot.port) as running:
        yield running
