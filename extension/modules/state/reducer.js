// The reducer core: the state's shape, the actions, and dispatch to the per-concern slices.

import { INSTALL_COMMAND } from "../host-port.js";
import { keysOnNotification, keysOnSuccess } from "./keys.js";
import { membershipOnFailure, membershipOnNotification, membershipOnSuccess } from "./membership.js";
import { openpgpOnSuccess, withIdentityKey } from "./openpgp.js";
import { opKey, without } from "./operations.js";
import { pairingOnFailure, pairingOnNotification, pairingOnSuccess } from "./pairing.js";
import { defaultSettings, isValidAccountId, settingsOnFailure, settingsOnSuccess, storableSettings } from "./settings.js";
import { thunderbirdOnNotification, thunderbirdOnSuccess, withThunderbirdAnswer } from "./thunderbird.js";

/** One table from the slices' tables; a name claimed by two slices is a mistake. */
function merged(...tables) {
  const out = {};
  for (const table of tables) {
    for (const [name, handler] of Object.entries(table)) {
      if (Object.hasOwn(out, name)) throw new Error(`${name} is handled by two state slices`);
      out[name] = handler;
    }
  }
  return Object.freeze(out);
}

/** op → (account, {target, params, result, notice}) → account, for a call that succeeded. */
const ON_SUCCESS = merged(
  settingsOnSuccess,
  membershipOnSuccess,
  pairingOnSuccess,
  keysOnSuccess,
  thunderbirdOnSuccess,
  openpgpOnSuccess,
);
/** method → (account, params) → account, for a notification about the account. */
const ON_NOTIFICATION = merged(
  pairingOnNotification,
  membershipOnNotification,
  keysOnNotification,
  thunderbirdOnNotification,
);
/** (account, op, target, error) → account: what a failed call tells each slice. */
const ON_FAILURE = Object.freeze([settingsOnFailure, membershipOnFailure, pairingOnFailure]);

export function initialState() {
  return {
    host: { state: "idle", detail: null, version: null, installCommand: INSTALL_COMMAND },
    accountsLoaded: false,
    accountsError: null,
    order: [],
    byId: {},
  };
}

export function emptyAccount({ id, name, type, emails }, saved, deviceName) {
  const email = (saved && saved.email) || (emails && emails[0]) || "";
  const settings = { ...defaultSettings(email, deviceName), ...storableSettings(saved) };
  return {
    id,
    name: name || id,
    type: type || "imap",
    emails: emails || [],
    settings,
    savedConfigured: Boolean(saved && saved.configured),
    savedJoined: Boolean(saved && saved.configured && saved.joined), // set up when the page opened
    fromThunderbird: Boolean(saved && saved.fromThunderbird), // set up from Thunderbird's settings
    thunderbird: null, // the Experiment's answer about its IMAP settings (no secret), once read
    tokenNeeded: false, // account.token_needed arrived and no new token was accepted yet
    configured: false, // account.configure succeeded with the host that is running now
    needsPassword: false,
    capabilities: [],
    passwordStorage: null, // "keyring" | "memory", from account.configure
    sma: null,
    outgoing: null,
    incoming: {},
    removals: {}, // muaa_id → {muaa_id, name, confirmed[], waiting[]}: device.remove's answer (ids and a name only)
    keyStored: null,
    keyAvailable: null,
    identityKey: null, // Thunderbird's OpenPGP key of the identity: {available, key: {fingerprint, userId, created} | null, reason?}
    accountKey: null, // the account key sma-host holds: {fingerprint} | null (never the key itself)
    keyring: null, // {peers, total} from keys.list, or null before the first read
    keyringStale: false, // keys.changed arrived: re-read keys.list
    pending: {},
    errors: {},
    notices: {},
    event: null, // the last notification worth telling: {key, subs}
    stale: false, // sma.changed arrived: re-read sma.status
  };
}

function patchAccount(state, id, fn) {
  const account = state.byId[id];
  if (!account) return state;
  const next = fn(account);
  if (next === account) return state;
  return { ...state, byId: { ...state.byId, [id]: next } };
}

function onSuccess(account, op, target, params, result) {
  const key = opKey(op, target);
  const a = {
    ...account,
    pending: without(account.pending, key),
    errors: without(account.errors, key),
  };
  const notice = (k, subs = []) => ({ ...a.notices, [key]: { key: k, subs } });
  return Object.hasOwn(ON_SUCCESS, op) ? ON_SUCCESS[op](a, { target, params, result, notice }) : a;
}

function onFailure(account, op, target, error) {
  const key = opKey(op, target);
  const a = {
    ...account,
    pending: without(account.pending, key),
    errors: { ...account.errors, [key]: error },
    notices: without(account.notices, key),
  };
  return ON_FAILURE.reduce((next, slice) => slice(next, op, target, error), a);
}

function onNotification(state, method, params) {
  const id = params && params.account;
  return patchAccount(state, id, (a) => (Object.hasOwn(ON_NOTIFICATION, method) ? ON_NOTIFICATION[method](a, params) : a));
}

/**
 * Actions:
 *   {type: "host", status}                      HostPort status snapshot
 *   {type: "accounts", accounts, saved, deviceName}  Thunderbird accounts + stored settings
 *   {type: "accountsError", error}
 *   {type: "settings", account, settings}       form edits (storable fields only)
 *   {type: "thunderbird", account, answer}      the Experiment's IMAP settings of the account
 *   {type: "identityKey", account, answer}      Thunderbird's OpenPGP key of the identity (no secret)
 *   {type: "start", account, op, target?}
 *   {type: "success", account, op, target?, params, result}
 *   {type: "failure", account, op, target?, error: {reason, text, data}}
 *   {type: "dismiss", account, key}             clear an error/notice
 *   {type: "notification", method, params}
 */
export function reducer(state, action) {
  switch (action.type) {
    case "host": {
      const s = action.status || {};
      let next = {
        ...state,
        host: {
          state: s.state,
          detail: s.detail ?? null,
          version: s.version ?? null,
          nextAttemptAt: s.nextAttemptAt ?? null,
          installCommand: INSTALL_COMMAND,
        },
      };
      if (s.state !== "connected" && s.state !== "connecting") {
        // Whatever was pending died with the host; the calls themselves report their errors.
        return next;
      }
      if (s.state === "connecting" && state.host.state !== "connecting") {
        // A new host process knows no account until account.configure (or its keyring) says so.
        const byId = {};
        for (const [id, a] of Object.entries(next.byId)) byId[id] = { ...a, configured: false };
        next = { ...next, byId };
      }
      return next;
    }
    case "accounts": {
      const byId = {};
      const order = [];
      for (const acc of action.accounts) {
        if (!isValidAccountId(acc.id)) continue;
        const old = state.byId[acc.id];
        byId[acc.id] = old
          ? { ...old, name: acc.name || acc.id, emails: acc.emails || [] }
          : emptyAccount(acc, action.saved && action.saved[acc.id], action.deviceName);
        order.push(acc.id);
      }
      return { ...state, accountsLoaded: true, accountsError: null, order, byId };
    }
    case "accountsError":
      return { ...state, accountsLoaded: true, accountsError: action.error };
    case "settings":
      return patchAccount(state, action.account, (a) => ({
        ...a,
        settings: { ...a.settings, ...storableSettings(action.settings) },
      }));
    case "thunderbird":
      return patchAccount(state, action.account, (a) => withThunderbirdAnswer(a, action.answer));
    case "identityKey":
      return patchAccount(state, action.account, (a) => withIdentityKey(a, action.answer));
    case "start":
      return patchAccount(state, action.account, (a) => {
        const key = opKey(action.op, action.target);
        return {
          ...a,
          pending: { ...a.pending, [key]: true },
          errors: without(a.errors, key),
          notices: without(a.notices, key),
        };
      });
    case "success":
      return patchAccount(state, action.account, (a) =>
        onSuccess(a, action.op, action.target, action.params, action.result),
      );
    case "failure":
      return patchAccount(state, action.account, (a) => onFailure(a, action.op, action.target, action.error));
    case "dismiss":
      return patchAccount(state, action.account, (a) => ({
        ...a,
        errors: without(a.errors, action.key),
        notices: without(a.notices, action.key),
        event: action.key === "event" ? null : a.event,
      }));
    case "notification":
      return onNotification(state, action.method, action.params);
    default:
      return state;
  }
}
