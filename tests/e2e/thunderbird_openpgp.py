"""Thunderbird's own OpenPGP in a test profile: set up as a user would, read back as it is.

Set-up goes through Thunderbird's own code from chrome context (its key generation, as the
account settings' "Create a new OpenPGP key" does). Read-back takes the most independent
way there is: the keyring files Thunderbird saved in the profile (``secring.gpg``,
``pubring.gpg``, parsed with Sequoia), the acceptance database ``openpgp.sqlite``, the
identity's prefs, and Thunderbird's collected-keys store. Nothing here returns secret key
material to the test.
"""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pysequoia import Cert, Tsk

if TYPE_CHECKING:
    from tests.e2e.harness import Thunderbird

_MODULES = """
const modules = "chrome://openpgp/content/modules/";
const { RNP } = ChromeUtils.importESModule(modules + "RNP.sys.mjs");
const { EnigmailKeyRing } = ChromeUtils.importESModule(modules + "keyRing.sys.mjs");
"""


def generate_identity_key(tb: Thunderbird, user_id: str, identity: str = "id1") -> str:
    """A new key from Thunderbird's own key generation (ECC, protected with the profile's
    automatic passphrase), set for ``identity``: its fingerprint."""
    return str(
        tb.chrome_async(
            _MODULES
            + """
            const [userId, identityKey, resolve] = arguments;
            const { OpenPGPMasterpass } = ChromeUtils.importESModule(modules + "masterpass.sys.mjs");
            const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
            (async () => {
              await RNP.init();
              const password = await OpenPGPMasterpass.retrieveOpenPGPPassword();
              const keyId = await RNP.genKey(userId, "ECC", 0, 0, password);
              await RNP.saveKeyRings();
              EnigmailKeyRing.clearCache();
              const identity = MailServices.accounts.getIdentity(identityKey);
              identity.setUnicharAttribute("openpgp_key_id", keyId);
              identity.setBoolAttribute("is_gnupg_key_id", false);
              return EnigmailKeyRing.getKeyById("0x" + keyId).fpr;
            })().then(resolve, (e) => resolve("error: " + e));
            """,
            user_id,
            identity,
        )
    )


def public_key(tb: Thunderbird, fingerprint: str) -> str:
    """The armored public key Thunderbird holds for ``fingerprint`` (its own export)."""
    return str(
        tb.chrome_async(
            _MODULES
            + """
            const [fpr, resolve] = arguments;
            RNP.getPublicKey("0x" + fpr).then(resolve, (e) => resolve("error: " + e));
            """,
            fingerprint,
        )
    )


def identity_key_id(tb: Thunderbird, identity: str = "id1") -> dict[str, Any]:
    """The identity's OpenPGP prefs as Thunderbird keeps them."""
    return dict(
        tb.chrome(
            """
            const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
            const identity = MailServices.accounts.getIdentity(arguments[0]);
            return {
              keyId: identity.getUnicharAttribute("openpgp_key_id"),
              gnupg: identity.getBoolAttribute("is_gnupg_key_id"),
            };
            """,
            identity,
        )
    )


def keys_in(data: bytes) -> dict[str, bool]:
    """Upper-case fingerprint → whether the secret part is there, for each key in OpenPGP
    data (a keyring file, an export)."""
    if not data:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pysequoia's "use Tsk" hints
        return {c.fingerprint.upper(): c.has_secret_keys for c in Cert.split_bytes(data)}


def _keys(path: Path) -> dict[str, bool]:
    return keys_in(path.read_bytes()) if path.is_file() else {}


def saved_keyring(tb: Thunderbird) -> dict[str, bool]:
    """The keys in the keyring files Thunderbird saved: upper-case fingerprint → whether
    its secret part is in ``secring.gpg``."""
    public = dict.fromkeys(_keys(tb.profile / "pubring.gpg"), False)
    return {**public, **_keys(tb.profile / "secring.gpg")}


def unlocks(key: bytes, passphrase: str | None) -> bool:
    """Whether ``passphrase`` unlocks the (one) secret key in ``key`` (armored or binary),
    as Sequoia sees it: it makes a signer of it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            Tsk.from_bytes(key).signer(passphrase)
    except Exception:  # pysequoia raises plain Exceptions
        return False
    return True


def acceptance(tb: Thunderbird, fingerprint: str) -> str | None:
    """The acceptance Thunderbird stored for the key (``personal`` for the user's own),
    read from its database file, not from its in-memory cache."""
    path = tb.profile / "openpgp.sqlite"
    if not path.is_file():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute(
            "SELECT decision FROM acceptance_decision WHERE fpr = ?", (fingerprint.lower(),)
        ).fetchone()
    return str(row[0]) if row else None


def collected_keys(tb: Thunderbird, email: str) -> list[dict[str, Any]]:
    """Thunderbird's collected keys for ``email`` (``CollectedKeysDB.findKeysForEmail``):
    fingerprint, emails and sources of each."""
    return list(
        tb.chrome_async(
            """
            const [email, resolve] = arguments;
            const { CollectedKeysDB } = ChromeUtils.importESModule(
              "chrome://openpgp/content/modules/CollectedKeysDB.sys.mjs");
            (async () => {
              const db = await CollectedKeysDB.getInstance();
              const keys = await db.findKeysForEmail(email);
              return keys.map((k) => ({
                fingerprint: k.fingerprint, emails: k.emails, sources: k.sources,
                armored: k.pubKey.startsWith("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
              }));
            })().then(resolve, (e) => resolve([{ error: String(e) }]));
            """,
            email,
        )
    )


def key_assistant(tb: Thunderbird, email: str) -> list[tuple[str, str]]:
    """What Thunderbird's key assistant offers for ``email`` when composing to it
    (``EnigmailKeyRing.getEncryptionKeyMeta``): (fingerprint, readiness) each; a collected
    key the user has not accepted yet is ``collected``."""
    return [
        (str(fpr), str(readiness))
        for fpr, readiness in tb.chrome_async(
            _MODULES
            + """
            const [email, resolve] = arguments;
            EnigmailKeyRing.getEncryptionKeyMeta(email).then(
              (metas) => resolve(metas.map((m) => [m.keyObj.fpr, m.readiness])),
              (e) => resolve([["error", String(e)]]));
            """,
            email,
        )
    ]
