// What the host status line and an account's one-line summary say (the popup and the settings page).

import { devicesOf, isJoined } from "./membership.js";
import { incomingPairings } from "./pairing.js";
import { isImapAccount } from "./thunderbird.js";

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

/** One account's summary as {key, subs}. */
export function accountSummary(account) {
  if (!isImapAccount(account)) return { key: "summaryNotImap", subs: [] };
  const waiting = incomingPairings(account).filter((p) => p.state === "waiting" && !p.accepted).length;
  if (waiting === 1) return { key: "summaryIncomingOne", subs: [] };
  if (waiting > 1) return { key: "summaryIncoming", subs: [String(waiting)] };
  if (account.needsPassword) return { key: "summaryNeedsPassword", subs: [] };
  if (!account.configured && !account.sma) return { key: "summaryNotConfigured", subs: [] };
  if (account.sma && account.sma.removed) return { key: "summaryRemoved", subs: [] };
  if (!isJoined(account)) return { key: "summaryNotJoined", subs: [] };
  const { others } = devicesOf(account);
  const paired = String(others.filter((d) => d.paired).length);
  // messages.json has no plural forms: one key per count that reads differently.
  if (others.length === 0) return { key: "summaryJoinedAlone", subs: [] };
  if (others.length === 1) return { key: "summaryJoinedOne", subs: [paired] };
  return { key: "summaryJoined", subs: [paired, String(others.length)] };
}
