"""openpgp.py: real keys made by Sequoia are read; everything else is refused as
``invalid_key`` with a message that says why and never quotes the input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pysequoia import CipherSuite, Profile, Tsk
from pysequoia.packet import PacketPile, Tag

from sma_host import errors, openpgp
from sma_host.openpgp import InvalidKey, keydata_from_armored, read_public_key, read_secret_key

DATA = Path(__file__).parent / "data"
#: tests/data/account-*-key.asc, made once with pysequoia 0.1.35 (Tsk.generate): known answers.
KNOWN_FINGERPRINT = "420F4AB316348E10739F7D58A95BCB433536A201"
KNOWN_CREATED = 1795955841
KNOWN_USER_ID = "SMA Test Key <sma-test@example.org>"
#: tests/data/gnupg-*, made once with GnuPG 2.2.40 (another implementation): an Ed25519
#: primary and a Cv25519 encryption subkey, the secret parts protected by a passphrase as
#: Thunderbird's export protects them. Fingerprint and creation time as GnuPG listed them.
GNUPG_FINGERPRINT = "DC4099F65A6E594A2F9BFD5BCA78B8BF182CE33B"
GNUPG_CREATED = 1795956251
GNUPG_USER_ID = "Protected Test <protected@example.org>"


@pytest.fixture(scope="module")
def alice() -> Tsk:
    return Tsk.generate("Alice <alice@example.org>")


def refused(call: object, value: object) -> str:
    """The message of the ``InvalidKey`` that ``call(value)`` raises."""
    with pytest.raises(InvalidKey) as info:
        call(value)  # type: ignore[operator]
    assert info.value.to_error_object()["data"]["reason"] == "invalid_key"
    return info.value.message


def test_invalid_key_is_an_invalid_params_error_with_its_own_reason() -> None:
    assert issubclass(InvalidKey, errors.InvalidParams)
    assert InvalidKey("x").to_error_object()["code"] == -32602
    assert "invalid_key" in errors.ALL_REASONS


def test_the_committed_secret_key_gives_its_known_fingerprint() -> None:
    info = read_secret_key((DATA / "account-secret-key.asc").read_text())
    assert info.fingerprint == KNOWN_FINGERPRINT
    assert info.user_ids == (KNOWN_USER_ID,)
    assert info.created == KNOWN_CREATED
    assert info.can_encrypt


def test_the_committed_public_key_gives_the_same_facts() -> None:
    keydata = keydata_from_armored((DATA / "account-public-key.asc").read_text())
    info = read_public_key(keydata)
    assert (info.fingerprint, info.user_ids, info.created) == (
        KNOWN_FINGERPRINT,
        (KNOWN_USER_ID,),
        KNOWN_CREATED,
    )


def test_a_passphrase_protected_gnupg_secret_key_is_read_without_its_passphrase() -> None:
    info = read_secret_key((DATA / "gnupg-protected-secret-key.asc").read_text())
    assert (info.fingerprint, info.user_ids, info.created, info.can_encrypt) == (
        GNUPG_FINGERPRINT,
        (GNUPG_USER_ID,),
        GNUPG_CREATED,
        True,
    )


def test_gnupg_autocrypt_keydata_gives_gnupgs_fingerprint() -> None:
    info = read_public_key((DATA / "gnupg-public-key.pgp").read_bytes())
    assert (info.fingerprint, info.user_ids, info.created) == (
        GNUPG_FINGERPRINT,
        (GNUPG_USER_ID,),
        GNUPG_CREATED,
    )


def test_a_generated_secret_key_is_read(alice: Tsk) -> None:
    info = read_secret_key(str(alice))
    cert = alice.extract_certificate()
    assert info.fingerprint == cert.fingerprint.upper() and len(info.fingerprint) == 40
    assert info.user_ids == ("Alice <alice@example.org>",)
    assert info.can_encrypt
    primary = next(iter(PacketPile.from_bytes(bytes(cert))))
    assert info.created == int(primary.key_created.timestamp())


def test_text_around_the_armor_is_ignored_as_in_an_autocrypt_setup_message(alice: Tsk) -> None:
    text = "Here is my key:\n\n" + str(alice) + "\nBye\n"
    assert read_secret_key(text).fingerprint == alice.extract_certificate().fingerprint.upper()


def test_a_v6_key_has_a_64_digit_fingerprint() -> None:
    tsk = Tsk.generate("V6 <v6@example.org>", profile=Profile.RFC9580)
    info = read_secret_key(str(tsk))
    assert len(info.fingerprint) == 64 and info.fingerprint == info.fingerprint.upper()
    assert read_public_key(bytes(tsk.extract_certificate())).fingerprint == info.fingerprint


def test_an_rsa_key_is_read() -> None:
    tsk = Tsk.generate("R <r@example.org>", cipher_suite=CipherSuite.RSA2k)
    assert read_public_key(bytes(tsk.extract_certificate())).can_encrypt


def test_a_key_without_an_encryption_subkey_cannot_encrypt(alice: Tsk) -> None:
    packets = list(PacketPile.from_bytes(bytes(alice)))
    # Tsk.generate: primary, its signatures and user ID, a signing subkey + binding, then
    # the encryption subkey + binding: drop those two.
    assert packets[-2].tag == Tag.SecretSubkey and packets[-1].key_flags.transport_encryption
    signing_only = Tsk.from_packets(packets[:-2])
    info = read_secret_key(str(signing_only))
    assert not info.can_encrypt
    assert info.fingerprint == alice.extract_certificate().fingerprint.upper()
    assert not read_public_key(bytes(signing_only.extract_certificate())).can_encrypt


def test_a_public_key_is_read_from_autocrypt_keydata(alice: Tsk) -> None:
    keydata = bytes(alice.extract_certificate())
    info = read_public_key(keydata)
    assert info == read_secret_key(str(alice))


def test_an_armored_public_key_becomes_the_same_keydata(alice: Tsk) -> None:
    cert = alice.extract_certificate()
    assert keydata_from_armored(str(cert)) == bytes(cert)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "hello world!",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key at all\n-----END PGP PRIVATE KEY BLOCK-----\n",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\naGVsbG8gd29ybGQh\n=AAAA\n-----END PGP PRIVATE KEY BLOCK-----\n",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n\udc80\n-----END PGP PRIVATE KEY BLOCK-----\n",
    ],
    ids=["empty", "blank", "words", "garbage-in-armor", "base64-junk-in-armor", "lone-surrogate"],
)
def test_garbage_is_not_a_secret_key(text: str) -> None:
    refused(read_secret_key, text)


def test_a_truncated_secret_key_is_refused(alice: Tsk) -> None:
    lines = str(alice).splitlines()
    cut = "\n".join(lines[: len(lines) // 2] + ["-----END PGP PRIVATE KEY BLOCK-----"])
    refused(read_secret_key, cut)


def test_a_public_key_is_not_the_secret_key(alice: Tsk) -> None:
    message = refused(read_secret_key, str(alice.extract_certificate()))
    assert "public key" in message


def test_a_public_key_armored_as_private_is_not_the_secret_key(alice: Tsk) -> None:
    public = str(alice.extract_certificate()).replace("PUBLIC KEY", "PRIVATE KEY")
    assert "no secret key material" in refused(read_secret_key, public)


def test_two_keys_are_not_one_secret_key(alice: Tsk) -> None:
    other = Tsk.generate("Bob <bob@example.org>")
    refused(read_secret_key, str(alice) + str(other))


def test_an_oversize_secret_key_is_refused_before_parsing(alice: Tsk) -> None:
    text = str(alice) + " " * openpgp.MAX_SECRET_KEY_CHARS
    assert "too long" in refused(read_secret_key, text)


def test_a_secret_key_must_be_text(alice: Tsk) -> None:
    refused(read_secret_key, bytes(alice))


def test_a_secret_key_is_not_a_correspondents_key(alice: Tsk) -> None:
    assert "secret key" in refused(read_public_key, bytes(alice))
    assert "secret key" in refused(keydata_from_armored, str(alice))
    # The same secret packets under a PUBLIC KEY armor header are refused as well.
    disguised = str(alice).replace("PRIVATE KEY", "PUBLIC KEY")
    assert "secret key" in refused(keydata_from_armored, disguised)


@pytest.mark.parametrize(
    "keydata",
    [b"", b"hello world!", base64.b64encode(b"hello world!"), b"\x00\x01\x02\xff" * 8],
    ids=["empty", "hello", "base64-of-hello", "binary-junk"],
)
def test_junk_is_not_a_public_key(keydata: bytes) -> None:
    refused(read_public_key, keydata)


def test_truncated_keydata_is_refused(alice: Tsk) -> None:
    keydata = bytes(alice.extract_certificate())
    for cut in (1, len(keydata) // 2, len(keydata) - 1):
        refused(read_public_key, keydata[:cut])


def test_oversize_keydata_is_refused(alice: Tsk) -> None:
    keydata = bytes(alice.extract_certificate())
    padded = keydata + b"\x00" * (openpgp.MAX_PUBLIC_KEY_BYTES + 1 - len(keydata))
    assert "too large" in refused(read_public_key, padded)


def test_keydata_must_be_binary_not_armor(alice: Tsk) -> None:
    assert "armor" in refused(read_public_key, str(alice.extract_certificate()).encode())


def test_armored_junk_is_not_a_public_key() -> None:
    refused(keydata_from_armored, "hello world!")
    refused(
        keydata_from_armored,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnope\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    refused(keydata_from_armored, "-----BEGIN PGP PUBLIC KEY BLOCK-----" + "A" * 300_000)


def test_a_signature_alone_is_not_a_key(alice: Tsk) -> None:
    signature = list(PacketPile.from_bytes(bytes(alice.extract_certificate())))[1]
    assert signature.tag == Tag.Signature
    refused(read_public_key, bytes(signature))


def test_messages_never_quote_the_secret_key(alice: Tsk) -> None:
    armored = str(alice)
    body = [line for line in armored.splitlines() if line and not line.startswith(("-", "Comment"))]
    broken = [
        armored.replace(body[0], body[0][::-1]),  # corrupt the first packet
        armored[: len(armored) // 2],  # cut off, no footer
        armored.replace("PRIVATE KEY", "PUBLIC KEY"),
    ]
    for text in broken:
        for call in (read_secret_key, keydata_from_armored):
            message = refused(call, text)
            assert not any(line[:16] in message for line in body)
