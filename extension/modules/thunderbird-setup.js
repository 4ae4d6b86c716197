// The controller's Thunderbird half: an account set up from Thunderbird's own settings
// (the smaThunderbird Experiment through thunderbird-accounts.js), with nothing typed.
//
// - useThunderbird: read the settings, then the saved password or an OAuth2 token, call
//   account.configure, then sma.join ("Use Thunderbird's settings").
// - restore: after a host restart the host knows no password or token of such an account
//   (nothing is remembered in the OS keyring): account.configure again, from Thunderbird.
// - renewToken: account.token_needed or token_expired: a fresh token from Thunderbird,
//   given to the host with account.token.
//
// Passwords and tokens go from the Experiment straight into the call's params, to the
// host; they are never dispatched, stored or logged. Only a marker (`fromThunderbird`)
// and the non-secret settings reach storage.local.

import {
  buildThunderbirdConfigureParams,
  settingsFromThunderbird,
  thunderbirdError,
  thunderbirdSetup,
} from "./state.js";

/** Run `work(account)` once per account at a time; a second caller gets the same promise. */
function perAccount(work) {
  const running = new Map();
  return (account) => {
    if (!running.has(account)) {
      running.set(account, work(account).finally(() => running.delete(account)));
    }
    return running.get(account);
  };
}

/**
 * @param {object} deps
 * @param {object} deps.thunderbird createThunderbirdAccounts(…)
 * @param {Function} deps.getAccount id → the account's state
 * @param {Function} deps.dispatch the controller's dispatch
 * @param {Function} deps.run the controller's run(account, op, params, options)
 * @param {Function} deps.save the controller's save(account, patch)
 */
export function createThunderbirdSetup({ thunderbird, getAccount, dispatch, run, save }) {
  /** The Experiment's settings answer, into the state (it holds no secret). */
  async function readSettings(account) {
    const answer = await thunderbird.imapSettings(account);
    dispatch({ type: "thunderbird", account, answer });
    return answer;
  }

  async function readAll(accounts) {
    await Promise.all(accounts.map(readSettings));
  }

  /** {password} or {accessToken}, or {error} (a thunderbirdError). */
  async function credential(account, auth) {
    if (auth === "oauth2") {
      const got = await thunderbird.accessToken(account);
      return got.available ? { accessToken: got.accessToken } : { error: thunderbirdError(got.reason) };
    }
    const got = await thunderbird.password(account);
    if (!got.available) return { error: thunderbirdError(got.reason) };
    if (typeof got.password !== "string" || got.password === "") return { error: thunderbirdError("no_saved_password") };
    return { password: got.password };
  }

  /** account.configure from Thunderbird's settings: {ok, result} | {ok: false, error}. */
  async function configure(account, { quiet = false } = {}) {
    const setup = thunderbirdSetup({ thunderbird: await readSettings(account) });
    if (setup.kind !== "ready") return { ok: false, error: thunderbirdError(setup.reason, setup.detail) };
    const got = await credential(account, setup.answer.auth);
    if (got.error) return { ok: false, error: got.error };
    const a = getAccount(account);
    if (!a) return { ok: false, error: thunderbirdError("no_account") };
    const settings = { ...a.settings, ...settingsFromThunderbird(setup.answer), remember: false };
    const params = buildThunderbirdConfigureParams(account, settings, setup.answer, got);
    const res = await run(account, "configure", params, {
      successParams: { settings, fromThunderbird: true },
      quiet,
    });
    if (res.ok) await save(account, { settings, configured: true, fromThunderbird: true });
    return res;
  }

  /** The one click: configure from Thunderbird, then join. Its own pending/error/notice line. */
  async function useThunderbird(account) {
    const a = getAccount(account);
    if (!a) return { ok: false, error: thunderbirdError("no_account") };
    if (a.pending.useThunderbird) return { ok: false, busy: true };
    dispatch({ type: "start", account, op: "useThunderbird" });
    let res = await configure(account);
    // The form's own status line stays the form's: this outcome is told on the button's line.
    dispatch({ type: "dismiss", account, key: "configure" });
    if (res.ok) {
      res = await run(account, "join", { account });
      if (res.ok) await save(account, { joined: true });
    }
    if (res.ok) dispatch({ type: "success", account, op: "useThunderbird", params: {}, result: {} });
    else if (!res.busy) dispatch({ type: "failure", account, op: "useThunderbird", error: res.error });
    return res;
  }

  /** After a host restart: configure again from Thunderbird, quietly (sync then resumes). */
  const restore = perAccount(async (account) => {
    const res = await configure(account, { quiet: true });
    if (!res.ok && !res.busy) dispatch({ type: "failure", account, op: "useThunderbird", error: res.error });
    return res;
  });

  /** A fresh OAuth2 token from Thunderbird for the host (account.token); the user sees nothing. */
  const renewToken = perAccount(async (account) => {
    const got = await thunderbird.accessToken(account);
    if (!got.available) {
      const error = thunderbirdError(got.reason);
      dispatch({ type: "failure", account, op: "token", error });
      return { ok: false, error };
    }
    return run(account, "token", { account, access_token: got.accessToken }, { successParams: { account }, quiet: true });
  });

  /**
   * A call failed: can Thunderbird fix it? token_expired → a new token; a restarted host
   * that lacks the credentials of an account set up from Thunderbird → configure again.
   * True when the call is worth one more try.
   */
  async function recover(account, error) {
    const a = getAccount(account);
    if (!a || !error) return false;
    if (error.reason === "token_expired") return (await renewToken(account)).ok;
    if (error.reason === "unknown_account" && error.data && error.data.credentials_missing && a.fromThunderbird) {
      return (await restore(account)).ok;
    }
    return false;
  }

  return { readAll, useThunderbird, restore, renewToken, recover };
}
