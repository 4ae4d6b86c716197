// The add-on's door to the smaThunderbird Experiment's OpenPGP functions
// (experiments/README.md): the account's key into and out of Thunderbird's own OpenPGP,
// and correspondents' keys into its collected keys. Every answer is a value, never an
// exception: {available: true, …} or {available: false, reason, message}, so that the page
// falls back to the manual paths (paste or file) and can say why.
//
// The exported secret key and its one-time passphrase go only to sma-host (inside the
// sealed SMA payload); they are never stored, logged or put in a page.

import { experimentCaller } from "./thunderbird-accounts.js";

/** Codes the Experiment's OpenPGP functions put before their messages; anything else is "failed". */
export const OPENPGP_REASONS = Object.freeze([
  "experiment_missing", // this add-on runs without its Experiment (or an older one)
  "unavailable", // Thunderbird's OpenPGP (or a module the Experiment needs) is missing
  "background_only", // the secret key was asked for (or handed in) outside the background
  "no_account",
  "no_identity", // the account has no identity to set the key for (Local Folders)
  "no_key", // the identity has no key whose secret Thunderbird holds: nothing to share
  "export_failed", // Thunderbird could not unlock the key (its passphrase prompt cancelled)
  "invalid_key", // not exactly one OpenPGP secret key Thunderbird can import
  "wrong_passphrase", // the passphrase that came with the key does not unlock it
  "import_failed", // Thunderbird did not import it
  "failed", // anything else the Experiment or Thunderbird threw
]);

/** Where collected keys say they come from, in Thunderbird's key assistant. */
export const COLLECTED_SOURCE = "sma-host (your other devices)";

/**
 * sma-host's keyring entries (keys.list `peers`) as addCollectedKeys entries: the address
 * and its Autocrypt keydata. Entries without both are left out.
 */
export function collectedKeysFromPeers(peers) {
  return (Array.isArray(peers) ? peers : [])
    .filter((p) => p && typeof p.addr === "string" && typeof p.keydata === "string")
    .map((p) => ({ email: p.addr, keydata: p.keydata, source: COLLECTED_SOURCE }));
}

/**
 * @param {object} [api] the messenger namespace (default: the add-on's own)
 */
export function createThunderbirdOpenPGP(api = globalThis.messenger ?? globalThis.browser) {
  const ask = experimentCaller(api, OPENPGP_REASONS);

  return {
    /** True when this add-on runs with the OpenPGP functions of its Experiment. */
    present() {
      return typeof api?.smaThunderbird?.getIdentityKey === "function";
    },
    /**
     * The key Thunderbird uses for the account's identity (for "Share this key with my
     * devices"): {available: true, key: {fingerprint, userId, created} | null} |
     * {available: false, reason, message}
     */
    identityKey(accountId) {
      const asValue = (found) => ({ key: found ?? null });
      return ask("getIdentityKey", [accountId], asValue);
    },
    /**
     * That key, exported by Thunderbird and protected with a one-time passphrase; for
     * account.key.set only (background): {available: true, armored, passphrase} |
     * {available: false, reason, message}
     */
    exportIdentityKey(accountId) {
      return ask("exportIdentityKey", [accountId], ({ armored, passphrase }) => ({ armored, passphrase }));
    },
    /**
     * "Install in Thunderbird" (after the user confirmed; background):
     * {available: true, fingerprint, alreadyPresent} | {available: false, reason, message}
     */
    installAccountKey(accountId, armored, passphrase) {
      return ask("installAccountKey", [accountId, armored, passphrase], ({ fingerprint, alreadyPresent }) => ({
        fingerprint,
        alreadyPresent: Boolean(alreadyPresent),
      }));
    },
    /**
     * Correspondents' keys into Thunderbird's collected keys ({email, keydata, source}
     * each, e.g. collectedKeysFromPeers(peers)): {available: true, stored} |
     * {available: false, reason, message}
     */
    addCollectedKeys(keys) {
      return ask("addCollectedKeys", [keys], (stored) => ({ stored: Number(stored) || 0 }));
    },
  };
}
