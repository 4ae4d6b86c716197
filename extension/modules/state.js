// UI state: a pure reducer plus pure helpers. No browser API, no DOM, no I/O.
//
// One state object describes the host connection and, per Thunderbird account, the IMAP
// settings (never the password), the SMA (this device and the others), the pairings, and
// for every operation whether it is pending, its last error and its last success notice.
// Texts are message keys (+ substitutions) for _locales, except error texts, which
// host-port.js has already localized.

import { INSTALL_COMMAND } from "./host-port.js";

export const SECURITY_VALUES = Object.freeze(["tls", "starttls", "none"]);
export const DEFAULT_PORTS = Object.freeze({ tls: 993, starttls: 143, none: 143 });
export const MAX_ARMORED_LENGTH = 262_144;
const ACCOUNT_ID_RE = /^[A-Za-z0-9_.:@+-]{1,128}$/;
const EMAIL_RE = /^[^@\s]{1,64}@[^@\s]{1,253}$/;
const HOST_RE = /^[^\s/]+$/;

/** The settings kept in storage (no password, ever). */
export const SETTINGS_FIELDS = Object.freeze([
  "email",
  "deviceName",
  "host",
  "port",
  "security",
  "username",
  "remember",
]);

export function initialState() {
  return {
    host: { state: "idle", detail: null, version: null, installCommand: INSTALL_COMMAND },
    accountsLoaded: false,
    accountsError: null,
    order: [],
    byId: {},
  };
}

// ---- pure helpers ---------------------------------------------------------------------

export function opKey(op, target) {
  return target ? `${op}:${target}` : op;
}

/** Account types that have an IMAP-capable mailbox behind an e-mail address. */
export function isMailAccount(account) {
  return account && (account.type === "imap" || account.type === "pop3");
}

export function isValidAccountId(id) {
  return typeof id === "string" && ACCOUNT_ID_RE.test(id);
}

/** Guess IMAP settings from an e-mail address: imap.<domain>, 993, TLS, the address as user. */
export function guessImapSettings(email) {
  const at = typeof email === "string" ? email.lastIndexOf("@") : -1;
  if (at < 1 || at === email.length - 1) {
    return { host: "", port: DEFAULT_PORTS.tls, security: "tls", username: email || "" };
  }
  const domain = email.slice(at + 1).trim().toLowerCase();
  return { host: `imap.${domain}`, port: DEFAULT_PORTS.tls, security: "tls", username: email.trim() };
}

export function defaultSettings(email, deviceName) {
  return { email: email || "", deviceName: deviceName || "", remember: false, ...guessImapSettings(email) };
}

/** Keep only the storable fields; drops the password and anything unknown. */
export function storableSettings(settings) {
  const out = {};
  for (const field of SETTINGS_FIELDS) {
    if (settings && settings[field] !== undefined) out[field] = settings[field];
  }
  return out;
}

/**
 * Field errors of an IMAP settings form: {field: messageKey}. `password` is needed unless
 * the account is configured in this host session and nothing but the password is missing.
 */
export function validateSettings(settings, password, { passwordRequired = true } = {}) {
  const errors = {};
  const s = settings || {};
  if (!EMAIL_RE.test(String(s.email || ""))) errors.email = "fieldErrorEmail";
  const name = String(s.deviceName || "").trim();
  if (name.length < 1 || name.length > 64) errors.deviceName = "fieldErrorDeviceName";
  const host = String(s.host || "").trim();
  if (!host || host.length > 253 || !HOST_RE.test(host)) errors.host = "fieldErrorHost";
  const port = Number(s.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) errors.port = "fieldErrorPort";
  if (!SECURITY_VALUES.includes(s.security)) errors.security = "fieldErrorSecurity";
  const user = String(s.username || "");
  if (user.length < 1 || user.length > 320) errors.username = "fieldErrorUsername";
  if (passwordRequired && (typeof password !== "string" || password.length < 1 || password.length > 1024)) {
    errors.password = "fieldErrorPassword";
  }
  return errors;
}

/** The account.configure params (schema: account.configure.params.json, plus `remember`). */
export function buildConfigureParams(accountId, settings, password) {
  const imap = {
    host: String(settings.host).trim(),
    port: Number(settings.port),
    security: settings.security,
    username: String(settings.username),
    password,
  };
  return {
    account: accountId,
    email: String(settings.email).trim(),
    device_name: String(settings.deviceName).trim(),
    imap,
    remember: Boolean(settings.remember),
  };
}

/** The digits of a typed pairing code (spaces and dashes ignored, as the host does). */
export function normalizePairingCode(code) {
  return String(code || "").replace(/[\s-]/g, "");
}

export function isValidPairingCode(code) {
  return /^[0-9]{10}$/.test(normalizePairingCode(code));
}

export function looksLikeArmoredSecretKey(text) {
  return (
    typeof text === "string" &&
    text.length <= MAX_ARMORED_LENGTH &&
    /-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text) &&
    /-----END PGP PRIVATE KEY BLOCK-----/.test(text)
  );
}

// ---- correspondent keys (the keyring, docs/protocol.md §9) -----------------------------

export const MAX_KEYDATA_LENGTH = 65_536;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

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

/** The keys.put entry (schema: common.json peer_entry) for what the form holds, dated `nowSec`. */
export function buildKeyEntry({ addr, keyText, mutual }, nowSec) {
  const ts = Math.floor(nowSec);
  return {
    addr: String(addr).trim(),
    keydata: keydataFromInput(keyText).keydata,
    prefer_encrypt: mutual ? "mutual" : "nopreference",
    autocrypt_timestamp: ts,
    last_seen: ts,
  };
}

/** YYYY-MM-DD (UTC) of unix seconds, or "" when there is none. */
export function isoDate(ts) {
  if (typeof ts !== "number" || !Number.isFinite(ts)) return "";
  return new Date(ts * 1000).toISOString().slice(0, 10);
}

/** The keyring as table rows: address, preference message key, short key form, date. */
export function keyringRows(account) {
  const peers = (account && account.keyring && account.keyring.peers) || [];
  return peers.map((p) => ({
    addr: String(p.addr ?? ""),
    preferKey: p.prefer_encrypt === "mutual" ? "preferMutual" : "preferNoPreference",
    short: String(p.keydata ?? "").slice(0, 16),
    date: isoDate(p.autocrypt_timestamp),
  }));
}

/** A file name for the exported key: <address>-account-key.asc with unsafe characters replaced. */
export function keyFileName(email) {
  const base = String(email || "account").replace(/[^A-Za-z0-9@._+-]/g, "_").slice(0, 100) || "account";
  return `${base}-account-key.asc`;
}

/** {key, subs} describing how long ago `ts` (unix seconds) was, relative to `nowMs`. */
export function lastSeenText(ts, nowMs) {
  if (typeof ts !== "number") return { key: "lastSeenUnknown", subs: [] };
  const ago = Math.max(0, Math.floor(nowMs / 1000) - ts);
  if (ago < 120) return { key: "lastSeenJustNow", subs: [] };
  if (ago < 7200) return { key: "lastSeenMinutes", subs: [String(Math.floor(ago / 60))] };
  if (ago < 2 * 86400) return { key: "lastSeenHours", subs: [String(Math.floor(ago / 3600))] };
  return { key: "lastSeenDays", subs: [String(Math.floor(ago / 86400))] };
}

/** Seconds left until `expiresAt` (unix seconds), never negative. */
export function secondsLeft(expiresAt, nowMs) {
  if (typeof expiresAt !== "number") return null;
  return Math.max(0, expiresAt - Math.floor(nowMs / 1000));
}

/** This device's entry, and the other devices, from an sma.status result. */
export function devicesOf(account) {
  const muaas = (account && account.sma && account.sma.muaas) || [];
  return {
    self: muaas.find((m) => m.self) || null,
    others: muaas.filter((m) => !m.self),
  };
}

export function isJoined(account) {
  return Boolean(account && account.sma && account.sma.self && !account.sma.removed);
}

export function isPending(account, op, target) {
  return Boolean(account && account.pending[opKey(op, target)]);
}

/** Incoming pairing requests still worth showing (waiting, or just finished). */
export function incomingPairings(account) {
  return Object.values((account && account.incoming) || {}).sort(
    (a, b) => (a.expires_at ?? 0) - (b.expires_at ?? 0),
  );
}

// ---- the reducer ------------------------------------------------------------------------

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
    configured: false, // account.configure succeeded with the host that is running now
    needsPassword: false,
    capabilities: [],
    passwordStorage: null, // "keyring" | "memory", from account.configure
    sma: null,
    outgoing: null,
    incoming: {},
    keyStored: null,
    keyAvailable: null,
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

function without(obj, key) {
  if (!(key in obj)) return obj;
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

function markPaired(sma, muaaId, name) {
  if (!sma || !muaaId) return sma;
  const muaas = sma.muaas || [];
  if (muaas.some((m) => m.muaa_id === muaaId)) {
    return { ...sma, muaas: muaas.map((m) => (m.muaa_id === muaaId ? { ...m, paired: true } : m)) };
  }
  const added = { muaa_id: muaaId, name: name || muaaId, last_seen: null, self: false, paired: true };
  return { ...sma, muaas: [...muaas, added] };
}

function dropMuaa(sma, muaaId) {
  if (!sma) return sma;
  return { ...sma, muaas: (sma.muaas || []).filter((m) => m.muaa_id !== muaaId) };
}

/** Notices that only make sense while this device takes part in the SMA. */
const MEMBER_NOTICE_OPS = Object.freeze(["join", "sync", "pairRequest", "pairAccept", "leave"]);

/**
 * This device was removed from the SMA (device.removed with self: true, or sma.status /
 * sma.sync saying removed: true): it takes part in nothing any more. The stale "Joined."
 * and similar notices go, no other device counts as paired with it, and pairings in flight
 * are dropped; only "Join" is left to do (isJoined is false while sma.removed is set).
 */
function markRemoved(account, sma) {
  const base = sma || account.sma || {};
  const muaas = (base.muaas || []).map((m) => (m.paired ? { ...m, paired: false } : m));
  let notices = account.notices;
  for (const op of MEMBER_NOTICE_OPS) notices = without(notices, op);
  for (const key of Object.keys(notices)) {
    if (key.startsWith("pairAccept:") || key.startsWith("pairCancel:")) notices = without(notices, key);
  }
  return { ...account, sma: { ...base, removed: true, muaas }, outgoing: null, incoming: {}, notices };
}

function setPairing(account, pairingId, patch) {
  let next = account;
  if (account.outgoing && account.outgoing.pairing_id === pairingId) {
    next = { ...next, outgoing: { ...next.outgoing, ...patch } };
  }
  if (account.incoming[pairingId]) {
    next = { ...next, incoming: { ...next.incoming, [pairingId]: { ...next.incoming[pairingId], ...patch } } };
  }
  return next;
}

function onSuccess(account, op, target, params, result) {
  const key = opKey(op, target);
  let a = {
    ...account,
    pending: without(account.pending, key),
    errors: without(account.errors, key),
  };
  const notice = (k, subs = []) => ({ ...a.notices, [key]: { key: k, subs } });
  switch (op) {
    case "configure": {
      const settings = { ...a.settings, ...(params && params.settings ? storableSettings(params.settings) : {}) };
      const storage = (result && result.password_storage) || null;
      // The host says where the password is now: the OS keyring, or memory only.
      let key = "noticeConfigured";
      if (storage === "keyring") key = "noticeConfiguredRemembered";
      else if (settings.remember) key = "noticeConfiguredNoKeyring";
      return {
        ...a,
        configured: true,
        savedConfigured: true,
        needsPassword: false,
        capabilities: (result && result.capabilities) || [],
        passwordStorage: storage,
        settings,
        notices: notice(key, [String(settings.host), String((result && result.keyring_unavailable) || "")]),
      };
    }
    case "status": {
      const next = { ...a, sma: result, stale: false, configured: true, needsPassword: false };
      return result && result.removed ? markRemoved(next, result) : next;
    }
    case "join": {
      const sma = { ...(a.sma || { exists: true, muaas: [] }), self: result.muaa_id, removed: false, exists: true };
      return { ...a, sma, notices: notice("noticeJoined") };
    }
    case "sync": {
      a = { ...a, notices: notice("noticeSynced", [String(result.processed ?? 0), String(result.sent ?? 0)]) };
      if (result.removed) a = markRemoved(a);
      return a;
    }
    case "pairRequest":
      return {
        ...a,
        outgoing: { ...result, state: "waiting", reason: null, peer_name: null, account_key_received: false },
      };
    case "pairAccept":
      return setPairing({ ...a, notices: notice("noticeCodeSent") }, result.pairing_id, {
        state: result.state,
        accepted: true,
      });
    case "pairCancel":
      return setPairing(a, result.pairing_id, { state: result.state, reason: result.state === "failed" ? "cancelled" : null });
    case "pairList": {
      const incoming = { ...a.incoming };
      let outgoing = a.outgoing;
      for (const p of (result && result.pairings) || []) {
        if (p.direction === "incoming" && (p.state === "waiting" || incoming[p.pairing_id])) {
          incoming[p.pairing_id] = { accepted: false, ...incoming[p.pairing_id], ...p };
        }
        if (p.direction === "outgoing" && outgoing && outgoing.pairing_id === p.pairing_id) {
          outgoing = { ...outgoing, state: p.state, reason: p.reason ?? null, peer_name: p.peer_name };
        }
      }
      return { ...a, incoming, outgoing };
    }
    case "keySet":
      return { ...a, keyStored: true, keyAvailable: true, notices: notice("noticeKeyStored") };
    case "keyGet":
      return {
        ...a,
        keyAvailable: Boolean(result && result.armored),
        notices: notice(result && result.armored ? "noticeKeyReady" : "noticeNoKey"),
      };
    case "keysList":
      return {
        ...a,
        keyring: { peers: (result && result.peers) || [], total: (result && result.total) ?? 0 },
        keyringStale: false,
      };
    case "keysPut": {
      const sentTo = String(((result && result.queued_to) || []).length);
      return {
        ...a,
        notices: notice(result && result.stored > 0 ? "noticeKeysPut" : "noticeKeysPutUnchanged", [sentTo]),
      };
    }
    case "remove":
      return { ...a, sma: dropMuaa(a.sma, result.removed), notices: notice("noticeRemoved", [String(target)]) };
    case "leave":
      return {
        ...a,
        sma: { ...(a.sma || {}), self: null, removed: false, muaas: ((a.sma && a.sma.muaas) || []).filter((m) => !m.self) },
        outgoing: null,
        incoming: {},
        notices: notice("noticeLeft"),
      };
    default:
      return a;
  }
}

function onFailure(account, op, target, error) {
  const key = opKey(op, target);
  let a = {
    ...account,
    pending: without(account.pending, key),
    errors: { ...account.errors, [key]: error },
    notices: without(account.notices, key),
  };
  const data = error.data || {};
  if (error.reason === "unknown_account") {
    a = { ...a, configured: false, needsPassword: Boolean(data.credentials_missing) || a.savedConfigured };
  }
  if (error.reason === "not_joined" && a.sma) a = { ...a, sma: { ...a.sma, self: null } };
  if (op === "pairAccept" && target && (error.reason === "pairing_expired" || error.reason === "not_found")) {
    a = setPairing(a, target, { state: error.reason === "pairing_expired" ? "expired" : "failed" });
  }
  return a;
}

function onNotification(state, method, params) {
  const id = params && params.account;
  return patchAccount(state, id, (a) => {
    switch (method) {
      case "pair.requested":
        return {
          ...a,
          incoming: {
            ...a.incoming,
            [params.pairing_id]: {
              pairing_id: params.pairing_id,
              peer: params.peer,
              peer_name: params.peer_name,
              expires_at: params.expires_at,
              direction: "incoming",
              state: "waiting",
              accepted: false,
            },
          },
          event: { key: "eventPairRequested", subs: [String(params.peer_name ?? params.peer ?? "")] },
        };
      case "pair.completed": {
        const next = setPairing(a, params.pairing_id, {
          state: "complete",
          peer: params.peer,
          peer_name: params.peer_name,
          account_key_received: Boolean(params.account_key_received),
        });
        return {
          ...next,
          sma: markPaired(next.sma, params.peer, params.peer_name),
          keyAvailable: params.account_key_received ? true : next.keyAvailable,
          event: {
            key: params.account_key_received ? "eventPairCompletedWithKey" : "eventPairCompleted",
            subs: [String(params.peer_name ?? params.peer ?? "")],
          },
        };
      }
      case "pair.failed": {
        const next = setPairing(a, params.pairing_id, {
          state: params.reason === "expired" ? "expired" : "failed",
          reason: params.reason ?? null,
        });
        return { ...next, event: { key: pairFailureKey(params.reason), subs: [] } };
      }
      case "device.paired":
        return {
          ...a,
          sma: markPaired(a.sma, params.muaa_id, params.name),
          event: { key: "eventDevicePaired", subs: [String(params.name ?? params.muaa_id)] },
        };
      case "device.removed":
        if (params.self) {
          return { ...markRemoved(a), event: { key: "eventThisDeviceRemoved", subs: [] } };
        }
        return {
          ...a,
          sma: dropMuaa(a.sma, params.muaa_id),
          event: {
            key: params.muaa_id === params.by ? "eventDeviceLeft" : "eventDeviceRemoved",
            subs: [String(params.muaa_id)],
          },
        };
      case "keys.changed":
        return {
          ...a,
          keyringStale: true,
          event: { key: "eventKeysChanged", subs: [String((params.addrs || []).length)] },
        };
      case "sma.changed":
        return { ...a, stale: true };
      case "account_key.changed":
        return {
          ...a,
          keyAvailable: true,
          event: { key: "eventAccountKeyChanged", subs: [String(params.fingerprint ?? "")] },
        };
      default:
        return a;
    }
  });
}

/**
 * Actions:
 *   {type: "host", status}                      HostPort status snapshot
 *   {type: "accounts", accounts, saved, deviceName}  Thunderbird accounts + stored settings
 *   {type: "accountsError", error}
 *   {type: "settings", account, settings}       form edits (storable fields only)
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

// ---- what to say (message keys for the views) -----------------------------------------

/** The host connection as {key, subs}. */
export function hostStatusMessage(host) {
  switch (host && host.state) {
    case "connected":
      return { key: "hostConnected", subs: [String(host.version ?? "")] };
    case "reconnecting":
      return { key: "hostReconnecting", subs: [String(host.detail || "")] };
    case "host_missing":
      return { key: "hostMissing", subs: [] };
    case "incompatible":
      return { key: "hostIncompatible", subs: [String(host.detail || "")] };
    case "disconnected":
      return { key: "hostDisconnected", subs: [String(host.detail || "")] };
    case "closed":
      return { key: "hostClosed", subs: [] };
    default:
      return { key: "hostConnecting", subs: [] };
  }
}

/** What an operation's status line says: pending, its error, its success notice, or nothing. */
export function opStatus(account, op, target) {
  const key = opKey(op, target);
  if (!account) return { kind: "none" };
  if (account.pending[key]) return { kind: "pending", key: `pending_${op}`, subs: [] };
  if (account.errors[key]) return { kind: "error", text: account.errors[key].text, reason: account.errors[key].reason };
  if (account.notices[key]) return { kind: "notice", key: account.notices[key].key, subs: account.notices[key].subs };
  return { kind: "none" };
}

/** The status of whichever `op:<target>` operation (e.g. remove:<muaa_id>) is most relevant. */
export function anyTargetStatus(account, op) {
  if (!account) return { kind: "none" };
  const prefix = `${op}:`;
  for (const bag of ["pending", "errors", "notices"]) {
    const key = Object.keys(account[bag]).find((k) => k.startsWith(prefix));
    if (key) return opStatus(account, op, key.slice(prefix.length));
  }
  return { kind: "none" };
}

export const PAIR_FAILURE_REASONS = Object.freeze([
  "expired",
  "confirmation_failed",
  "cancelled",
  "peer_confirmation_failed",
  "peer_cancelled",
  "peer_completed_elsewhere",
  "peer_expired",
  "peer_aborted",
]);

/** The message key for a pair.failed reason. */
export function pairFailureKey(reason) {
  return PAIR_FAILURE_REASONS.includes(reason) ? `pairReason_${reason}` : "pairReason_other";
}

/** What the SMA card says about this device's membership. */
export function smaHint(account) {
  if (!account.configured && !account.sma) return "smaNeedsConfigure";
  if (!account.sma) return "smaLoading";
  if (account.sma.removed) return "smaRemoved";
  if (!account.sma.self) return "smaNotJoined";
  return "smaJoined";
}

/** The outgoing pairing's status line as {key, subs}. */
export function outgoingMessage(outgoing) {
  if (!outgoing) return null;
  switch (outgoing.state) {
    case "waiting":
      return { key: "pairWaiting", subs: [] };
    case "complete":
      return {
        key: outgoing.account_key_received ? "eventPairCompletedWithKey" : "eventPairCompleted",
        subs: [String(outgoing.peer_name ?? outgoing.peer ?? "")],
      };
    case "expired":
      return { key: "pairReason_expired", subs: [] };
    default:
      return { key: pairFailureKey(outgoing.reason), subs: [] };
  }
}

/** An incoming pairing's status line as {key, subs}, or null while nothing happened yet. */
export function incomingMessage(pairing) {
  if (!pairing) return null;
  switch (pairing.state) {
    case "waiting":
      return pairing.accepted ? { key: "pairAcceptedWaiting", subs: [] } : null;
    case "complete":
      return { key: "eventPairCompleted", subs: [String(pairing.peer_name ?? pairing.peer ?? "")] };
    case "expired":
      return { key: "pairReason_expired", subs: [] };
    default:
      return { key: pairFailureKey(pairing.reason), subs: [] };
  }
}

/** mm:ss for a number of seconds. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** One account's summary as {key, subs}. */
export function accountSummary(account) {
  const waiting = incomingPairings(account).filter((p) => p.state === "waiting" && !p.accepted).length;
  if (waiting > 0) return { key: "summaryIncoming", subs: [String(waiting)] };
  if (account.needsPassword) return { key: "summaryNeedsPassword", subs: [] };
  if (!account.configured && !account.sma) return { key: "summaryNotConfigured", subs: [] };
  if (account.sma && account.sma.removed) return { key: "summaryRemoved", subs: [] };
  if (!isJoined(account)) return { key: "summaryNotJoined", subs: [] };
  const { others } = devicesOf(account);
  return { key: "summaryJoined", subs: [String(others.filter((d) => d.paired).length), String(others.length)] };
}
