// The SMA as this device sees it: this device and the others, joining, syncing, removal, leaving.

import { without } from "./operations.js";

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

/** {key, subs} describing how long ago `ts` (unix seconds) was, relative to `nowMs`. */
export function lastSeenText(ts, nowMs) {
  if (typeof ts !== "number") return { key: "lastSeenUnknown", subs: [] };
  const ago = Math.max(0, Math.floor(nowMs / 1000) - ts);
  if (ago < 120) return { key: "lastSeenJustNow", subs: [] };
  if (ago < 7200) return { key: "lastSeenMinutes", subs: [String(Math.floor(ago / 60))] };
  if (ago < 2 * 86400) return { key: "lastSeenHours", subs: [String(Math.floor(ago / 3600))] };
  return { key: "lastSeenDays", subs: [String(Math.floor(ago / 86400))] };
}

/** What the SMA card says about this device's membership. */
export function smaHint(account) {
  if (!account.configured && !account.sma) return "smaNeedsConfigure";
  if (!account.sma) return "smaLoading";
  if (account.sma.removed) return "smaRemoved";
  if (!account.sma.self) return "smaNotJoined";
  return "smaJoined";
}

/** The SMA with `muaaId` marked paired, added when sma.status has not listed it yet. */
export function markPaired(sma, muaaId, name) {
  if (!sma || !muaaId) return sma;
  const muaas = sma.muaas || [];
  if (muaas.some((m) => m.muaa_id === muaaId)) {
    return { ...sma, muaas: muaas.map((m) => (m.muaa_id === muaaId ? { ...m, paired: true } : m)) };
  }
  const added = { muaa_id: muaaId, name: name || muaaId, last_seen: null, self: false, paired: true };
  return { ...sma, muaas: [...muaas, added] };
}

/** The name sma.status gives `muaaId`, or null. */
function nameOf(account, muaaId) {
  const m = ((account && account.sma && account.sma.muaas) || []).find((d) => d.muaa_id === muaaId);
  return (m && m.name) || null;
}

/**
 * What the devices card says about each removal this device made (device.remove's
 * confirmed/waiting, §14.2), as [{muaa_id, key, subs, waiting}]: the removed device by the
 * name it had, the peers still to confirm by their names in sma.status, else by id.
 */
export function removalLines(account) {
  return Object.values((account && account.removals) || {}).map((r) => {
    const removed = r.name || r.muaa_id;
    if (r.waiting.length > 0) {
      const names = r.waiting.map((id) => nameOf(account, id) || id);
      return { muaa_id: r.muaa_id, key: "removalWaiting", subs: [removed, names.join(", ")], waiting: true };
    }
    const key = r.confirmed.length > 0 ? "removalConfirmed" : "removalNoPeers";
    return { muaa_id: r.muaa_id, key, subs: [removed], waiting: false };
  });
}

/** device.remove's answer kept per removed id: ids and the removed device's name only. */
function withRemoval(account, result) {
  if (!result || !Array.isArray(result.waiting)) return account; // an older host says nothing about confirmations
  const id = result.removed;
  const old = (account.removals || {})[id];
  const removal = {
    muaa_id: id,
    name: nameOf(account, id) || (old && old.name) || null,
    confirmed: Array.isArray(result.confirmed) ? [...result.confirmed] : [],
    waiting: [...result.waiting],
  };
  return { ...account, removals: { ...(account.removals || {}), [id]: removal } };
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
  // The host forgets the account key of a removed device; the page still says whether
  // Thunderbird keeps a copy, so the fingerprint it had is remembered (no key material).
  const removedKey = (account.accountKey && account.accountKey.fingerprint) || account.removedKey || null;
  return { ...account, sma: { ...base, removed: true, muaas }, outgoing: null, incoming: {}, notices, removedKey, removals: {} };
}

// ---- the membership's slice of the reducer -------------------------------------------

export const membershipOnSuccess = Object.freeze({
  status(a, { result }) {
    const next = { ...a, sma: result, stale: false, configured: true, needsPassword: false };
    return result && result.removed ? markRemoved(next, result) : next;
  },
  join(a, { result, notice }) {
    const sma = { ...(a.sma || { exists: true, muaas: [] }), self: result.muaa_id, removed: false, exists: true };
    return { ...a, sma, notices: notice("noticeJoined") };
  },
  sync(a, { result, notice }) {
    const next = { ...a, notices: notice("noticeSynced", [String(result.processed ?? 0), String(result.sent ?? 0)]) };
    return result.removed ? markRemoved(next) : next;
  },
  remove(a, { target, result, notice }) {
    const next = withRemoval(a, result);
    return { ...next, sma: dropMuaa(a.sma, result.removed), notices: notice("noticeRemoved", [String(target)]) };
  },
  leave(a, { notice }) {
    return {
      ...a,
      sma: { ...(a.sma || {}), self: null, removed: false, muaas: ((a.sma && a.sma.muaas) || []).filter((m) => !m.self) },
      outgoing: null,
      incoming: {},
      removals: {},
      notices: notice("noticeLeft"),
    };
  },
});

/** The host says this device is not in the SMA (any more). */
export function membershipOnFailure(a, op, target, error) {
  if (error.reason === "not_joined" && a.sma) return { ...a, sma: { ...a.sma, self: null } };
  return a;
}

export const membershipOnNotification = Object.freeze({
  "device.paired": (a, params) => ({
    ...a,
    sma: markPaired(a.sma, params.muaa_id, params.name),
    event: { key: "eventDevicePaired", subs: [String(params.name ?? params.muaa_id)] },
  }),
  "device.removed": (a, params) => {
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
  },
  "sma.changed": (a) => ({ ...a, stale: true }),
});
