// The pure part of the smaThunderbird Experiment's OpenPGP functions: checks of what the
// add-on hands in, and Thunderbird's key objects (RNP.sys.mjs key listings) in sma-host's
// words out. No Thunderbird internals are touched here; a classic script for the same
// reason as mapping.js (README.md): implementation.js loads it with loadSubScript, the
// Node tests (../test/experiment-openpgp.test.mjs) with node:vm. Its one global: smaOpenPGP.

/* exported smaOpenPGP */
"use strict";

// eslint-disable-next-line no-var
var smaOpenPGP = (() => {
  /** An exported secret key is a few KiB; sma-host accepts at most 1 MiB (openpgp.py). */
  const MAX_ARMORED_CHARS = 1 << 20;
  /** Autocrypt keydata as sma-host's keyring stores it: 64 KiB of base64 at most. */
  const MAX_KEYDATA_CHARS = 64 * 1024;
  /** Entries per addCollectedKeys call: a keyring's worth, not a flood. */
  const MAX_COLLECTED = 1000;
  const SECRET_BEGIN = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
  const SECRET_END = "-----END PGP PRIVATE KEY BLOCK-----";
  // OpenPGP packet tags (RFC 9580 §5): what the first packet of binary keydata must be.
  const TAG_PUBLIC_KEY = 6;
  const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
  const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

  /**
   * An identity's configured key as getIdentityKey answers: only a key whose secret part
   * Thunderbird holds (not a public key, not one kept in external GnuPG).
   *
   * @param {?{fpr: string, userId: string, keyCreated: number, secretAvailable: boolean}} key
   *   EnigmailKeyRing's key object (keyCreated in Unix seconds), or null
   * @returns {?{fingerprint: string, userId: string, created: string}}
   */
  function identityKey(key) {
    if (!key || !key.secretAvailable || typeof key.fpr !== "string") return null;
    return {
      fingerprint: key.fpr.toUpperCase(),
      userId: String(key.userId ?? ""),
      created: new Date(Number(key.keyCreated) * 1000).toISOString(),
    };
  }

  /** A one-time export passphrase from random bytes: lower-case hex (no ambiguous characters). */
  function passphrase(bytes) {
    if (!bytes || bytes.length < 16) throw new Error("a passphrase needs at least 16 random bytes");
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /**
   * What installAccountKey is given, checked before Thunderbird parses it: an armored secret
   * key block of sane size and a non-empty passphrase. Returns the reason it is refused
   * (a sentence), or null when it may go on to Thunderbird's parser.
   */
  function installInputProblem(armored, pass) {
    if (typeof armored !== "string" || !armored.includes(SECRET_BEGIN) || !armored.includes(SECRET_END)) {
      return "not an ASCII-armored OpenPGP secret key";
    }
    if (armored.length > MAX_ARMORED_CHARS) return "the key is larger than 1 MiB";
    if (typeof pass !== "string" || pass.length === 0) return "no passphrase was given";
    return null;
  }

  /**
   * The one secret key a block holds, from Thunderbird's listing of it
   * (RNP.getKeyListFromKeyBlockImpl(block, false, true)): {fingerprint, keyId}, or a sentence
   * saying why it is not the account key (installAccountKey installs one key, no more).
   */
  function secretKeyOf(keys) {
    if (!Array.isArray(keys) || keys.length === 0) return { problem: "Thunderbird found no OpenPGP key in it" };
    if (keys.length > 1) return { problem: `it holds ${keys.length} keys, not one` };
    const [key] = keys;
    if (!key.secretAvailable) return { problem: "it holds no secret key" };
    // Thunderbird 140 imports v4 keys only (40 hex digits); RNP refuses longer ones.
    if (typeof key.fpr !== "string" || !/^[0-9A-Fa-f]{40}$/.test(key.fpr)) {
      return { problem: "its key version is one Thunderbird cannot import" };
    }
    return { fingerprint: key.fpr.toUpperCase(), keyId: String(key.keyId).toUpperCase() };
  }

  /** The address in a user ID ("Name <a@b>" or a bare "a@b"), lower case; null if none. */
  function emailOfUserId(userId) {
    const text = String(userId ?? "").trim();
    const bracketed = /<([^<>]*)>\s*$/.exec(text);
    const candidate = (bracketed ? bracketed[1] : text).trim();
    return ADDRESS.test(candidate) ? candidate.toLowerCase() : null;
  }

  /** The first OpenPGP packet's tag of binary data (a byte string), or null. */
  function firstPacketTag(bytes) {
    if (!bytes) return null;
    const octet = bytes.charCodeAt(0);
    if (!(octet & 0x80)) return null; // not a packet header
    return octet & 0x40 ? octet & 0x3f : (octet >> 2) & 0x0f; // new format : legacy format
  }

  /**
   * One addCollectedKeys entry, checked: {email, keydata (base64, whitespace removed),
   * description}, or null when it is not even shaped like one (then skipped).
   */
  function collectedEntry(entry) {
    if (!entry || typeof entry !== "object") return null;
    const { email, keydata, source } = entry;
    if (typeof email !== "string" || !ADDRESS.test(email.trim())) return null;
    if (typeof keydata !== "string") return null;
    const base64 = keydata.replace(/\s+/g, "");
    if (!base64 || base64.length > MAX_KEYDATA_CHARS || base64.length % 4 !== 0 || !BASE64.test(base64)) {
      return null;
    }
    const description = typeof source === "string" && source ? source.slice(0, 200) : "sma-host";
    return { email: email.trim().toLowerCase(), keydata: base64, description };
  }

  /**
   * The key to collect for `email` from Thunderbird's listing of the keydata
   * (RNP.getKeyListFromKeyBlockImpl(binary, true, false, true)), or null: exactly one key,
   * public only, v4, neither expired nor revoked (Thunderbird collects no such new key
   * either), with a user ID for that address.
   */
  function publicKeyFor(keys, email) {
    if (!Array.isArray(keys) || keys.length !== 1) return null;
    const [key] = keys;
    if (key.secretAvailable) return null;
    if (typeof key.fpr !== "string" || !/^[0-9A-Fa-f]{40}$/.test(key.fpr)) return null;
    if (key.keyTrust === "e" || key.keyTrust === "r") return null;
    const wanted = email.toLowerCase();
    const ids = Array.isArray(key.userIds) ? key.userIds : [];
    return ids.some((uid) => uid && uid.type === "uid" && emailOfUserId(uid.userId) === wanted) ? key : null;
  }

  return Object.freeze({
    MAX_COLLECTED,
    TAG_PUBLIC_KEY,
    identityKey,
    passphrase,
    installInputProblem,
    secretKeyOf,
    emailOfUserId,
    firstPacketTag,
    collectedEntry,
    publicKeyFor,
  });
})();
