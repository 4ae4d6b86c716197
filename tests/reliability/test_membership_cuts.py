"""Cuts during membership changes (issue 15; ``make fuzz`` cuts at every boundary of
join, pair, remove, leave and expire, ``devtools/campaign_membership.py``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.scenarios import Bench, Plan, settle
from devtools import campaign_membership as membership
from devtools.dovecot import DovecotServer
from devtools.host_process import RpcError
from devtools.imap_proxy import ImapProxy

_BENCHES = itertools.count(1)


@pytest.fixture
def bench(dovecot: DovecotServer, tmp_dir: Path) -> Iterator[Bench]:
    running = Bench(Plan.tiny(448), dovecot, tmp_dir)
    running._users = itertools.count(1000 * next(_BENCHES))  # unique on the shared server
    try:
        yield running
    finally:
        running.close_all()


@pytest.mark.parametrize(
    "command", ["UID STORE", "APPEND"], ids=["erasing-B", "posting-the-record"]
)
def test_a_removal_cut_before_it_was_done_is_finished_by_the_retry(
    bench: Bench, proxy: ImapProxy, command: str
) -> None:
    """The first call recorded the removal, deleted B's inbox and lost the connection
    deleting B's announcement (``UID STORE``), or appending A's announcement that names
    B as removed (``APPEND``). The retry used to answer ``removed`` at once and leave the
    rest undone: B stayed listed (and, for the first, a peer of A), and B, never told
    (the record is how it learns), made its inbox again at its next sync; for the second
    A's old announcement also stayed beside the new one."""
    op = membership.OPERATIONS["device.remove"]
    with membership.duo(bench, proxy, push=False) as d:
        op.setup(d)
        membership.call(d.a, "sma.sync")
        settle(proxy)  # nothing of the pairing still on its way: the cut hits the removal
        cut = proxy.cut_at(command, 1, "before_reply")
        with pytest.raises(RpcError) as failed:
            membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert failed.value.reason == "connection_failed"
        assert cut.replied.wait(5)  # the proxy marks it just after cutting
        retry = membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert retry["removed"] == d.b_id
        assert d.b_id not in membership._listed(d.a)  # finished by the retry
        op.settle(d)
        assert op.judge(d) == (set(), 0)


@pytest.mark.parametrize(
    ("command", "nth"), [("DELETE", 1), ("UID STORE", 2)], ids=["its-inbox", "its-announcement"]
)
def test_a_cut_removal_of_an_unpaired_device_is_finished_by_the_retry(
    bench: Bench, proxy: ImapProxy, command: str, nth: int
) -> None:
    """B announced itself but never paired (a device that died before pairing): A's
    removal was cut while deleting B's inbox, or B's announcement (A's own stale one goes
    first). The retry used to find B recorded as removed and no longer A's peer, answer at
    once and leave B's traces on the server; the store now says what is left to erase."""
    with membership.duo(bench, proxy, push=False) as d:
        membership._expire_setup(d)  # both joined, B listed by A, not paired
        settle(proxy)
        cut = proxy.cut_at(command, nth, "before_reply")
        with pytest.raises(RpcError) as failed:
            membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert failed.value.reason == "connection_failed"
        assert cut.replied.wait(5)
        retry = membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert retry["removed"] == d.b_id
        assert membership._b_erased_judge(d) == (set(), 0)
