// The controller's OpenPGP half: keys between Thunderbird's own OpenPGP (the
// smaThunderbird Experiment through thunderbird-openpgp.js) and sma-host.
//
// - readKeys: what the keys card shows: the identity's key in Thunderbird and the
//   fingerprint of the account key sma-host holds.
// - share ("Share this key with my devices"): Thunderbird exports the identity's key
//   protected by a one-time passphrase; both go to account.key.set, which seals them to
//   every paired device.
// - install ("Install in Thunderbird", after the user confirmed): account.key.get gives
//   the key and its passphrase, installAccountKey puts them into Thunderbird's OpenPGP.
// - giveCollected: correspondents' keys (keys.list) that are new or changed since they
//   were last given go to Thunderbird's collected keys, in batches.
// - scanMail: new mail in a configured account → mail.scan.
//
// The secret key and its passphrase go from the Experiment straight into the call's params,
// or from the host's answer straight into the Experiment: they are never dispatched,
// stored, logged or returned to a page.

import { collectedKeysFromPeers } from "./thunderbird-openpgp.js";
import { openpgpError } from "./state.js";

/** Thunderbird's addCollectedKeys takes at most this many entries per call. */
export const COLLECTED_BATCH = 1000;

/** What identifies one version of a correspondent's key: a change gives it to Thunderbird again. */
function versionOf(peer) {
  return `${peer.fingerprint ?? ""}|${peer.autocrypt_timestamp ?? ""}|${peer.keydata.length}|${peer.keydata.slice(-64)}`;
}

/**
 * @param {object} deps
 * @param {object} deps.openpgp createThunderbirdOpenPGP(…)
 * @param {Function} deps.getAccount id → the account's state
 * @param {Function} deps.dispatch the controller's dispatch
 * @param {Function} deps.run the controller's run(account, op, params, options)
 * @param {Function} deps.call the controller's call(account, op, params): the host's answer, not dispatched
 * @param {Function} deps.errorOf a failed call's error → an operation error (the controller's errorInfo)
 * @param {object} [deps.logger]
 */
export function createThunderbirdKeys({ openpgp, getAccount, dispatch, run, call, errorOf, logger = console }) {
  const given = new Map(); // account → Map(addr → version given to Thunderbird)

  async function readIdentityKey(account) {
    const answer = await openpgp.identityKey(account);
    dispatch({ type: "identityKey", account, answer });
    return answer;
  }

  /** The card's facts: Thunderbird's identity key and the account key's fingerprint. */
  async function readKeys(account) {
    await Promise.all([readIdentityKey(account), run(account, "keyRead", { account }, { quiet: true })]);
  }

  /** A composite operation with its own pending/error/notice line. */
  async function operation(account, op, work) {
    const a = getAccount(account);
    if (!a) return { ok: false, error: openpgpError("no_account") };
    if (a.pending[op]) return { ok: false, busy: true };
    dispatch({ type: "start", account, op });
    let res;
    try {
      res = await work();
    } catch (e) {
      logger.error?.(`sma-host: ${op} failed`, e && e.name);
      res = { ok: false, error: openpgpError("failed") };
    }
    if (res.ok) dispatch({ type: "success", account, op, params: { account }, result: res.result });
    else if (!res.busy) dispatch({ type: "failure", account, op, error: res.error });
    return res.ok ? { ok: true, result: res.result } : { ok: false, error: res.error, busy: res.busy };
  }

  /** "Share this key with my devices": Thunderbird's export → account.key.set. */
  function share(account) {
    return operation(account, "keyShare", async () => {
      const exported = await openpgp.exportIdentityKey(account);
      if (!exported.available) return { ok: false, error: openpgpError(exported.reason) };
      let result;
      try {
        result = await call(account, "keySet", { account, armored: exported.armored, passphrase: exported.passphrase });
      } catch (err) {
        return { ok: false, error: errorOf(err) };
      }
      const { fingerprint, user_ids, can_encrypt, set_at, replicated_to } = result || {};
      return { ok: true, result: { fingerprint, user_ids, can_encrypt, set_at, replicated_to } };
    });
  }

  /** "Install in Thunderbird" (the user confirmed): account.key.get → installAccountKey. */
  function install(account) {
    return operation(account, "keyInstall", async () => {
      let held;
      try {
        held = await call(account, "keyGet", { account });
      } catch (err) {
        return { ok: false, error: errorOf(err) };
      }
      if (!held || !held.armored) return { ok: false, error: openpgpError("no_key") };
      const installed = await openpgp.installAccountKey(account, held.armored, held.passphrase ?? "");
      if (!installed.available) return { ok: false, error: openpgpError(installed.reason) };
      await readIdentityKey(account);
      return { ok: true, result: { fingerprint: installed.fingerprint, alreadyPresent: installed.alreadyPresent } };
    });
  }

  /**
   * keys.list's entries that are new or changed since they were last given go to
   * Thunderbird's collected keys, at most COLLECTED_BATCH per call. Without the Experiment
   * nothing happens (the keyring table still shows them).
   */
  async function giveCollected(account, peers) {
    if (!openpgp.present()) return { given: 0 };
    const seen = given.get(account) ?? new Map();
    const fresh = (Array.isArray(peers) ? peers : []).filter(
      (p) => p && typeof p.keydata === "string" && seen.get(p.addr) !== versionOf(p),
    );
    const entries = collectedKeysFromPeers(fresh);
    let stored = 0;
    for (let i = 0; i < entries.length; i += COLLECTED_BATCH) {
      const batch = fresh.slice(i, i + COLLECTED_BATCH);
      const answer = await openpgp.addCollectedKeys(entries.slice(i, i + COLLECTED_BATCH));
      if (!answer.available) {
        logger.warn?.(`sma-host: Thunderbird did not take the collected keys: ${answer.reason}`);
        return { given: stored, reason: answer.reason };
      }
      stored += answer.stored;
      for (const p of batch) seen.set(p.addr, versionOf(p));
    }
    given.set(account, seen);
    return { given: stored };
  }

  /** New mail in an account sma-host knows: mail.scan (Autocrypt headers of INBOX). */
  async function scanMail(account) {
    const a = getAccount(account);
    if (!a || !(a.configured || a.savedConfigured)) return { ok: false, skipped: true };
    return run(account, "mailScan", { account }, { quiet: true });
  }

  return {
    readKeys,
    readIdentityKey,
    share,
    install,
    giveCollected,
    scanMail,
  };
}
