"""Folder names in the personal namespace, and MUAA ids."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma_host.protocol.folders import (
    Namespace,
    is_muaa_id,
    muaa_id_from_random,
    require_muaa_id,
)

MUAA = "0123456789abcdef"


@pytest.mark.parametrize(
    ("prefix", "announce", "inbox"),
    [
        ("", "_Autocrypt_SMA", "_Autocrypt_SMA_0123456789abcdef"),
        ("INBOX.", "INBOX._Autocrypt_SMA", "INBOX._Autocrypt_SMA_0123456789abcdef"),
        ("INBOX/", "INBOX/_Autocrypt_SMA", "INBOX/_Autocrypt_SMA_0123456789abcdef"),
    ],
)
def test_folder_names_follow_the_personal_prefix(prefix: str, announce: str, inbox: str) -> None:
    ns = Namespace(prefix, prefix[-1:] or "/")
    assert ns.announcement_folder() == announce
    assert ns.inbox_folder(MUAA) == inbox
    assert ns.inbox_owner(inbox) == MUAA


@pytest.mark.parametrize(
    "bad", ["", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "../etc/passwd"]
)
def test_inbox_folder_refuses_what_is_no_muaa_id(bad: str) -> None:
    with pytest.raises(ValueError):
        Namespace("", "/").inbox_folder(bad)


@pytest.mark.parametrize(
    "folder",
    [
        "_Autocrypt_SMA",  # the announcement folder is nobody's inbox
        "_Autocrypt_SMA_",
        "_Autocrypt_SMA_0123456789ABCDEF",
        "_Autocrypt_SMA_0123456789abcdef/sub",
        "_Autocrypt_SMA_0123456789abcde",
        "INBOX._Autocrypt_SMA_0123456789abcdef",  # other prefix
        "x_Autocrypt_SMA_0123456789abcdef",
        "INBOX",
    ],
)
def test_inbox_owner_is_none_for_other_folders(folder: str) -> None:
    assert Namespace("", "/").inbox_owner(folder) is None


def test_inbox_owner_needs_the_prefix() -> None:
    ns = Namespace("INBOX.", ".")
    assert ns.inbox_owner("_Autocrypt_SMA_" + MUAA) is None
    assert ns.inbox_owner("INBOX._Autocrypt_SMA_" + MUAA) == MUAA


@given(st.binary(min_size=8, max_size=8))
def test_muaa_id_from_random_is_16_lowercase_hex(raw: bytes) -> None:
    muaa_id = muaa_id_from_random(raw)
    assert re.fullmatch(r"[0-9a-f]{16}", muaa_id)
    assert bytes.fromhex(muaa_id) == raw  # all 64 bits kept
    assert is_muaa_id(muaa_id)
    assert require_muaa_id(muaa_id) == muaa_id
    assert Namespace("", "/").inbox_owner(Namespace("", "/").inbox_folder(muaa_id)) == muaa_id


@pytest.mark.parametrize("size", [0, 7, 9, 16])
def test_muaa_id_from_random_needs_8_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="^need 8 random bytes$"):
        muaa_id_from_random(bytes(size))


@pytest.mark.parametrize("value", [None, 12, b"0123456789abcdef", "0123456789abcdeg", " " + MUAA])
def test_is_muaa_id_rejects(value: object) -> None:
    assert not is_muaa_id(value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match="^not a MUAA id$"):
            require_muaa_id(value)


def test_a_namespace_is_immutable() -> None:
    namespace = Namespace("INBOX.", ".")
    with pytest.raises(dataclasses.FrozenInstanceError):
        namespace.prefix = ""  # type: ignore[misc]
