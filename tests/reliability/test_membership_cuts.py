"""Cuts during membership changes (issue 15; ``make fuzz`` cuts at every boundary of
join, pair, remove, leave and expire, ``devtools/campaign_membership.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.scenarios import Bench, Plan
from devtools import campaign_membership as membership
from devtools.dovecot import DovecotServer
from devtools.host_process import RpcError
from devtools.imap_proxy import ImapProxy


@pytest.fixture
def bench(dovecot: DovecotServer, tmp_dir: Path) -> Iterator[Bench]:
    running = Bench(Plan.tiny(448), dovecot, tmp_dir)
    try:
        yield running
    finally:
        running.close_all()


def test_a_removal_cut_before_it_erased_the_device_is_finished_by_the_retry(
    bench: Bench, proxy: ImapProxy
) -> None:
    """The first call recorded the removal, deleted B's inbox and lost the connection
    deleting B's announcement. The retry used to answer ``removed`` at once and leave
    everything else undone: B stayed a peer of A and listed, and B (never told: it is the
    removed one) made its inbox again at its next sync."""
    op = membership.OPERATIONS["device.remove"]
    with membership.duo(bench, proxy, push=False) as d:
        op.setup(d)
        cut = proxy.cut_at("UID STORE", 1, "before_reply")
        with pytest.raises(RpcError) as failed:
            membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert failed.value.reason == "connection_failed"
        assert cut.replied.is_set()
        retry = membership.call(d.a, "device.remove", muaa_id=d.b_id)
        assert retry["removed"] == d.b_id
        assert d.b_id not in membership._listed(d.a)  # finished by the retry
        op.settle(d)
        assert op.judge(d) == (set(), 0)
