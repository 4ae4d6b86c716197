// The browser notifications the background shows (notify({id, titleKey, messageKey, subs})):
// for the host notifications a person should see without the settings page open, and for a
// password the host needs typed again. Pure: what to show, not how.

import { pairFailureKey } from "./state.js";

const peerOf = (params) => String(params.peer_name ?? params.peer ?? "");

/** host notification → (params, label) → the browser notification, or null. */
const FOR_NOTIFICATION = Object.freeze({
  "pair.requested": (params, label) => ({
    id: `pair-${params.pairing_id}`,
    titleKey: "notifyPairRequestedTitle",
    messageKey: "notifyPairRequestedBody",
    subs: [peerOf(params), label],
  }),
  "pair.completed": (params) => ({
    id: `pair-${params.pairing_id}`,
    titleKey: "notifyPairCompletedTitle",
    messageKey: params.account_key_received ? "eventPairCompletedWithKey" : "eventPairCompleted",
    subs: [peerOf(params)],
  }),
  "pair.failed": (params) => ({
    id: `pair-${params.pairing_id}`,
    titleKey: "notifyPairFailedTitle",
    messageKey: pairFailureKey(params.reason),
    subs: [],
  }),
  "device.removed": (params) =>
    params.self
      ? { id: `removed-${params.account}`, titleKey: "notifyRemovedTitle", messageKey: "eventThisDeviceRemoved", subs: [] }
      : null,
});

/** The browser notification for a host notification about the account labelled `label`, or null. */
export function alertForNotification(method, params, label) {
  return Object.hasOwn(FOR_NOTIFICATION, method) ? FOR_NOTIFICATION[method](params, label) : null;
}

/** The host lost the password of a manually configured account: the page asks, and so does this. */
export function passwordNeededAlert(accountId, label) {
  return {
    id: `password-${accountId}`,
    titleKey: "notifyPasswordNeededTitle",
    messageKey: "notifyPasswordNeededBody",
    subs: [label],
  };
}
