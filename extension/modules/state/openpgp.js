// The account key as Thunderbird's OpenPGP has it (the smaThunderbird Experiment through
// thunderbird-openpgp.js): the identity's key to share, the account key sma-host holds
// to install, and what the keys card offers. Only fingerprints, user IDs and dates live
// here: never a secret key or a passphrase.

import { OPENPGP_REASONS } from "../thunderbird-openpgp.js";

/** The message key that says `reason` (a failure of Thunderbird's OpenPGP) in words. */
export function openpgpReasonKey(reason) {
  return `openpgp_${OPENPGP_REASONS.includes(reason) ? reason : "failed"}`;
}

/** An OpenPGP failure as an operation error: a message key instead of host text. */
export function openpgpError(reason) {
  const known = OPENPGP_REASONS.includes(reason) ? reason : "failed";
  return { reason: known, code: null, text: "", key: openpgpReasonKey(known), subs: [], data: {} };
}

/** Only the public facts of an identityKey answer: {available, key: {fingerprint, userId, created (ISO 8601)} | null, reason?}. */
export function sanitizeIdentityKey(answer) {
  if (!answer || !answer.available) return { available: false, reason: (answer && answer.reason) || "failed" };
  const key = answer.key;
  if (!key || typeof key.fingerprint !== "string") return { available: true, key: null };
  return {
    available: true,
    key: { fingerprint: key.fingerprint, userId: String(key.userId ?? ""), created: String(key.created ?? "") },
  };
}

/** Upper-case hex without spaces, for comparing fingerprints however they are written. */
export function sameFingerprint(a, b) {
  const norm = (f) => String(f ?? "").replace(/\s+/g, "").toUpperCase();
  return Boolean(a) && Boolean(b) && norm(a) === norm(b);
}

/** A fingerprint in groups of four, as Thunderbird shows it. */
export function groupedFingerprint(fingerprint) {
  return String(fingerprint ?? "")
    .replace(/\s+/g, "")
    .toUpperCase()
    .replace(/(.{4})(?=.)/g, "$1 ");
}

/** YYYY-MM-DD of an ISO 8601 time, or "" when it is not one. */
export function isoDay(iso) {
  return /^\d{4}-\d{2}-\d{2}/.test(String(iso ?? "")) ? String(iso).slice(0, 10) : "";
}

/**
 * What the keys card offers, from the state (no secret):
 * - share: {kind: "loading"} | {kind: "offer", key} (Thunderbird has a key for the identity
 *   that is not the account key sma-host holds) | {kind: "shared"} (it is: nothing to share)
 *   | {kind: "none"} (it has none) | {kind: "unavailable", reason}
 * - install: {kind: "none"} (no account key here, or it cannot be installed) |
 *   {kind: "offer", fingerprint} | {kind: "installed", fingerprint} (the identity uses it)
 * - manual: the paste and file paths are the way (the Experiment cannot help), and why.
 */
export function keyCard(account) {
  const identity = account && account.identityKey;
  const held = account && account.accountKey && account.accountKey.fingerprint;
  let share;
  if (!identity) share = { kind: "loading" };
  else if (!identity.available) share = { kind: "unavailable", reason: identity.reason };
  else if (identity.key && sameFingerprint(identity.key.fingerprint, held)) share = { kind: "shared" };
  else if (identity.key) share = { kind: "offer", key: identity.key };
  else share = { kind: "none" };
  let install = { kind: "none" };
  if (held && identity && identity.available) {
    const installed = identity.key && sameFingerprint(identity.key.fingerprint, held);
    install = { kind: installed ? "installed" : "offer", fingerprint: held };
  }
  const manual = share.kind === "unavailable" ? { open: true, reason: share.reason } : { open: false, reason: null };
  return { share, install, manual };
}

/**
 * On a removed device: whether Thunderbird still uses the account key the host held before
 * the removal (the host has deleted its copy). null when there is nothing to say.
 */
export function removedKeyNotice(account) {
  const fingerprint = account && account.sma && account.sma.removed ? account.removedKey : null;
  const identity = account && account.identityKey;
  if (!fingerprint || !identity || !identity.available) return null;
  if (identity.key && sameFingerprint(identity.key.fingerprint, fingerprint)) {
    return { key: "removedKeyInThunderbird", subs: [fingerprint] };
  }
  return { key: "removedKeyNotInThunderbird", subs: [] };
}

// ---- the OpenPGP slice of the reducer --------------------------------------------------

/** {type: "identityKey", account, answer}: what Thunderbird's OpenPGP said about the identity's key. */
export function withIdentityKey(a, answer) {
  return { ...a, identityKey: sanitizeIdentityKey(answer) };
}

/** The account key sma-host holds, as the card knows it: its fingerprint, or null. */
export const heldKey = (result) => (result && result.fingerprint ? { fingerprint: String(result.fingerprint) } : null);

export const openpgpOnSuccess = Object.freeze({
  // account.key.get read quietly for the card: its fingerprint only.
  keyRead: (a, { result }) => ({ ...a, accountKey: heldKey(result) }),
  keyShare: (a, { result, notice }) => ({
    ...a,
    keyStored: true,
    keyAvailable: true,
    accountKey: heldKey(result),
    notices: notice("noticeKeyShared", [String(((result && result.replicated_to) || []).length)]),
  }),
  keyInstall: (a, { result, notice }) => ({
    ...a,
    notices: notice(result && result.alreadyPresent ? "noticeKeyAlreadyInstalled" : "noticeKeyInstalled", [
      groupedFingerprint(result && result.fingerprint),
    ]),
  }),
  mailScan: (a) => a,
});
