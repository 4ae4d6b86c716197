"""``sma.sync`` reports what it applied, also when its connection dropped after a batch
was committed and its internal retry finished the job."""

from __future__ import annotations

from tests.contract.test_delivery import paired_pair, through
from tests.contract.test_keys import ACCOUNT, call, entry, keyring


def test_sync_counts_the_batch_the_dropped_attempt_committed(spawn_host, account, proxy) -> None:  # type: ignore[no-untyped-def]
    a_params = account.configure_params(ACCOUNT, device_name="a")
    a, _, b, _ = paired_pair(spawn_host, account, a_params, through(proxy, account, "b"))
    for i in range(9):
        call(a, "keys.put", peers=[entry(f"n{i}@example.net", 10 + i, bytes([i]) * 32)])
    # The batch is committed before its messages are deleted: cut the connection there.
    held = proxy.hold_response_to("UID STORE")
    b.send({"jsonrpc": "2.0", "id": "sync", "method": "sma.sync", "params": {"account": ACCOUNT}})
    assert held.replied.wait(30), "the sync never reached its deletion"
    proxy.cut_held()
    response = b.wait_response("sync")
    summary = response["result"]
    assert summary["processed"] == 9, summary  # the first attempt's batch counts
    assert summary["keys_changed"] == 9, summary
    assert summary["dropped"] == 9, summary  # the retry met them again: replays, dropped
    assert len(keyring(b)) == 9
    assert call(b, "sma.sync")["processed"] == 0  # and nothing is left
