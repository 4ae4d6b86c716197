"""``keys.list`` over the real store: fingerprints of entries stored by an older host
(migration 4 leaves them NULL) are computed once and kept; a page reads only its rows."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

from sma_host.protocol.keyring import entry_from_json
from sma_host.service.keys import Keys, identify
from sma_host.store import AccountSettings, Store
from tests.pgp_keys import fingerprint_of, keydata_b64


class _Sessions:
    def get(self, account: str) -> None:
        return None


def _keys(tmp_dir: Path) -> tuple[Store, Keys]:
    store = Store(tmp_dir)
    store.save_account(AccountSettings("a", "a@example.org", "n", "h", 993, "tls", "u", None))
    return store, Keys(store, _Sessions(), None)  # type: ignore[arg-type]


def _entry(addr: str, keydata: str) -> dict[str, Any]:
    return {"addr": addr, "keydata": keydata, "prefer_encrypt": "mutual",
            "autocrypt_timestamp": 5, "last_seen": 5}  # fmt: skip


def test_legacy_entries_get_their_fingerprint_at_the_first_listing(tmp_dir: Path) -> None:
    store, keys = _keys(tmp_dir)
    garbage = base64.b64encode(b"hello world!").decode()
    store.put_keyring(
        "a",
        [(entry_from_json(_entry("old@x.org", keydata_b64("old"))), None),
         (entry_from_json(_entry("bad@x.org", garbage)), None)],
    )  # fmt: skip
    listed = keys.list_entries({"account": "a"})["peers"]
    assert [(e["addr"], e["fingerprint"]) for e in listed] == [
        ("bad@x.org", None),
        ("old@x.org", fingerprint_of(keydata_b64("old"))),
    ]
    assert store.fingerprints("a", ["old@x.org", "bad@x.org"]) == {
        "old@x.org": fingerprint_of(keydata_b64("old")),
        "bad@x.org": None,
    }
    store.close()


def test_listing_10000_entries_is_fast_and_complete(tmp_dir: Path) -> None:
    store, keys = _keys(tmp_dir)
    key = keydata_b64("shared")
    fingerprint = identify(key, {}).fingerprint
    entries = [entry_from_json(_entry(f"p{i:05}@x.org", key)) for i in range(10_000)]
    store.put_keyring("a", [(e, fingerprint) for e in entries])
    started, seen, offset, pages = time.monotonic(), [], 0, 0
    while True:
        page = keys.list_entries({"account": "a", "offset": offset})
        assert page["total"] == 10_000
        seen += [e["addr"] for e in page["peers"]]
        pages += 1
        if "next_offset" not in page:
            break
        offset = page["next_offset"]
    assert seen == [e.addr for e in entries] and pages > 10
    # Each page reads only its own rows (about 20 ms a page here; decoding the whole
    # keyring for every page took 0.3-0.5 s): a generous bound against a regression.
    assert (time.monotonic() - started) / pages < 1.0
    store.close()
