// Pairings: the typed code, this device's outgoing request, incoming requests, and what each says.

import { devicesOf, markPaired } from "./membership.js";

/** The digits of a typed pairing code (spaces and dashes ignored, as the host does). */
export function normalizePairingCode(code) {
  return String(code || "").replace(/[\s-]/g, "");
}

export function isValidPairingCode(code) {
  return /^[0-9]{10}$/.test(normalizePairingCode(code));
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

/** A well-formed MUAA id: 16 lowercase hex digits (docs/protocol.md §2). */
export function isMuaaId(id) {
  return typeof id === "string" && /^[0-9a-f]{16}$/.test(id);
}

/**
 * The devices "Pair this device" can ask (pair.request's `to`): the other announced devices
 * this device is not paired with, the most recently seen first (never seen last).
 */
export function pairTargets(account) {
  const seen = (m) => (typeof m.last_seen === "number" ? m.last_seen : -Infinity);
  return devicesOf(account)
    .others.filter((m) => !m.paired && isMuaaId(m.muaa_id))
    .sort((a, b) => seen(b) - seen(a))
    .map((m) => ({ muaa_id: m.muaa_id, name: m.name || m.muaa_id, last_seen: m.last_seen ?? null }));
}

/**
 * Whether the pairing card offers a choice of device: only with more than one candidate
 * (with one, the host's default asks it anyway). Without a choice pair.request goes, as
 * before, to the devices seen most recently (the host's broadcast, at most 4).
 */
export function offersPairTarget(account) {
  return pairTargets(account).length > 1;
}

/** pair.request's params: `to` only for a well-formed id that the user picked. */
export function pairRequestParams(account, to) {
  return isMuaaId(to) ? { account, to } : { account };
}

/** Seconds left until `expiresAt` (unix seconds), never negative. */
export function secondsLeft(expiresAt, nowMs) {
  if (typeof expiresAt !== "number") return null;
  return Math.max(0, expiresAt - Math.floor(nowMs / 1000));
}

/** mm:ss for a number of seconds. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Incoming pairing requests still worth showing (waiting, or just finished). */
export function incomingPairings(account) {
  return Object.values((account && account.incoming) || {}).sort(
    (a, b) => (a.expires_at ?? 0) - (b.expires_at ?? 0),
  );
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

// ---- the pairings' slice of the reducer ----------------------------------------------

/** Patch the pairing `pairingId`, whether it is the outgoing one or an incoming one. */
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

export const pairingOnSuccess = Object.freeze({
  pairRequest(a, { result }) {
    return {
      ...a,
      outgoing: { ...result, state: "waiting", reason: null, peer_name: null, account_key_received: false },
    };
  },
  pairAccept(a, { result, notice }) {
    return setPairing({ ...a, notices: notice("noticeCodeSent") }, result.pairing_id, {
      state: result.state,
      accepted: true,
    });
  },
  pairCancel(a, { result }) {
    return setPairing(a, result.pairing_id, { state: result.state, reason: result.state === "failed" ? "cancelled" : null });
  },
  pairList(a, { result }) {
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
  },
});

/** A code sent for a request that has expired or is gone: the request shows it. */
export function pairingOnFailure(a, op, target, error) {
  if (op === "pairAccept" && target && (error.reason === "pairing_expired" || error.reason === "not_found")) {
    return setPairing(a, target, { state: error.reason === "pairing_expired" ? "expired" : "failed" });
  }
  return a;
}

export const pairingOnNotification = Object.freeze({
  "pair.requested": (a, params) => ({
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
  }),
  "pair.completed": (a, params) => {
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
  },
  "pair.failed": (a, params) => {
    const next = setPairing(a, params.pairing_id, {
      state: params.reason === "expired" ? "expired" : "failed",
      reason: params.reason ?? null,
    });
    return { ...next, event: { key: pairFailureKey(params.reason), subs: [] } };
  },
});
