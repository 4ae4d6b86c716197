// Keys: the account key (set, export) and the correspondent keyring (docs/protocol.md §9).

import { groupedFingerprint, heldKey } from "./openpgp.js";
import { EMAIL_RE } from "./settings.js";

export const MAX_ARMORED_LENGTH = 262_144;
export const MAX_KEYDATA_LENGTH = 65_536;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function looksLikeArmoredSecretKey(text) {
  return (
    typeof text === "string" &&
    text.length <= MAX_ARMORED_LENGTH &&
    /-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text) &&
    /-----END PGP PRIVATE KEY BLOCK-----/.test(text)
  );
}

/** A file name for the exported key: <address>-account-key.asc with unsafe characters replaced. */
export function keyFileName(email) {
  const base = String(email || "account").replace(/[^A-Za-z0-9@._+-]/g, "_").slice(0, 100) || "account";
  return `${base}-account-key.asc`;
}

/**
 * The keydata (base64 of the OpenPGP public key, as in the Autocrypt header) of what was
 * pasted: bare base64 (line breaks and spaces ignored), or an ASCII-armored public key
 * block, whose armor lines, headers and checksum are dropped and base64 lines joined.
 * Returns {keydata} or {error: messageKey}.
 */
export function keydataFromInput(text) {
  const input = String(text ?? "").trim();
  if (!input) return { error: "fieldErrorPublicKeyEmpty" };
  if (input.length > MAX_ARMORED_LENGTH) return { error: "fieldErrorPublicKeyTooLong" };
  if (/-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(input)) return { error: "fieldErrorPublicKeySecret" };
  let body = input;
  if (/-----BEGIN PGP /.test(input)) {
    const m = /-----BEGIN PGP PUBLIC KEY BLOCK-----([\s\S]*?)-----END PGP PUBLIC KEY BLOCK-----/.exec(input);
    if (!m) return { error: "fieldErrorPublicKey" };
    const data = [];
    for (const raw of m[1].split(/\r?\n/)) {
      const line = raw.trim();
      // Armor headers ("Version: …", "Comment: …"; base64 has no colon) and blank lines.
      if (line === "" || /^[A-Za-z][A-Za-z0-9-]*:/.test(line)) continue;
      if (/^=[A-Za-z0-9+/]{4}$/.test(line)) break; // the CRC-24 checksum
      data.push(line);
    }
    body = data.join("");
  }
  const keydata = body.replace(/\s+/g, "");
  if (!keydata) return { error: "fieldErrorPublicKey" };
  if (keydata.length > MAX_KEYDATA_LENGTH) return { error: "fieldErrorPublicKeyTooLong" };
  if (!BASE64_RE.test(keydata)) return { error: "fieldErrorPublicKey" };
  return { keydata };
}

/** Field errors of the "add or update a correspondent key" form: {field: messageKey}. */
export function validateKeyEntry({ addr, keyText } = {}) {
  const errors = {};
  const a = String(addr ?? "").trim();
  if (a.length < 3 || a.length > 320 || !EMAIL_RE.test(a)) errors.addr = "fieldErrorPeerAddr";
  const parsed = keydataFromInput(keyText);
  if (parsed.error) errors.keyText = parsed.error;
  return errors;
}

/**
 * The keys.put entry (schema: common.json put_entry) for what the form holds. A key entered
 * by hand has no Autocrypt date: without autocrypt_timestamp the host dates it by the key's
 * own creation time, never "now", so it never outranks a later genuine Autocrypt update.
 */
export function buildKeyEntry({ addr, keyText, mutual }) {
  return {
    addr: String(addr).trim(),
    keydata: keydataFromInput(keyText).keydata,
    prefer_encrypt: mutual ? "mutual" : "nopreference",
  };
}

/** YYYY-MM-DD (UTC) of unix seconds, or "" when there is none. */
export function isoDate(ts) {
  if (typeof ts !== "number" || !Number.isFinite(ts)) return "";
  return new Date(ts * 1000).toISOString().slice(0, 10);
}

/**
 * The keyring as table rows: address, preference message key, the key (its fingerprint in
 * groups of four; the first 16 characters of its keydata for an entry an older host stored
 * without one), date.
 */
export function keyringRows(account) {
  const peers = (account && account.keyring && account.keyring.peers) || [];
  return peers.map((p) => ({
    addr: String(p.addr ?? ""),
    preferKey: p.prefer_encrypt === "mutual" ? "preferMutual" : "preferNoPreference",
    key: p.fingerprint ? groupedFingerprint(p.fingerprint) : String(p.keydata ?? "").slice(0, 16),
    date: isoDate(p.autocrypt_timestamp),
  }));
}

// ---- the keys' slice of the reducer --------------------------------------------------

export const keysOnSuccess = Object.freeze({
  keySet(a, { result, notice }) {
    return { ...a, keyStored: true, keyAvailable: true, accountKey: heldKey(result) ?? a.accountKey, notices: notice("noticeKeyStored") };
  },
  keyGet(a, { result, notice }) {
    return {
      ...a,
      keyAvailable: Boolean(result && result.armored),
      notices: notice(result && result.armored ? "noticeKeyReady" : "noticeNoKey"),
    };
  },
  keysList(a, { result }) {
    return {
      ...a,
      keyring: { peers: (result && result.peers) || [], total: (result && result.total) ?? 0 },
      keyringStale: false,
    };
  },
  keysPut(a, { result, notice }) {
    const sentTo = String(((result && result.queued_to) || []).length);
    return {
      ...a,
      notices: notice(result && result.stored > 0 ? "noticeKeysPut" : "noticeKeysPutUnchanged", [sentTo]),
    };
  },
});

export const keysOnNotification = Object.freeze({
  "keys.changed": (a, params) => ({
    ...a,
    keyringStale: true,
    event: { key: "eventKeysChanged", subs: [String((params.addrs || []).length)] },
  }),
  // Another device's account key replaced the one this device held.
  "account_key.changed": (a, params) => ({
    ...a,
    keyAvailable: true,
    accountKey: heldKey(params) ?? a.accountKey,
    event: { key: "eventAccountKeyChanged", subs: [String(params.fingerprint ?? "")] },
  }),
});
