// The contract's method catalogue (docs/protocol.md §5) and what the UI does with it.

/** Every method the host serves (host/sma_host/schemas/<method>.params.json). */
export const METHODS = Object.freeze([
  "hello",
  "account.configure",
  "sma.join",
  "sma.status",
  "sma.sync",
  "account.key.set",
  "account.key.get",
  "account.token",
  "pair.request",
  "pair.accept",
  "pair.list",
  "pair.cancel",
  "keys.put",
  "keys.list",
  "mail.scan",
  "sma.expire",
  "device.remove",
  "sma.leave",
  "ui.active",
]);

/** Every notification the host sends (docs/protocol.md §5.2); the UI handles them all. */
export const NOTIFICATIONS = Object.freeze([
  "pair.requested",
  "pair.completed",
  "pair.failed",
  "device.paired",
  "keys.changed",
  "sma.changed",
  "device.removed",
  "account_key.changed",
  "account.token_needed",
]);

/** UI operation → the contract method it calls. */
export const OPERATIONS = Object.freeze({
  hello: "hello",
  configure: "account.configure",
  status: "sma.status",
  join: "sma.join",
  sync: "sma.sync",
  pairRequest: "pair.request",
  pairAccept: "pair.accept",
  pairCancel: "pair.cancel",
  pairList: "pair.list",
  keySet: "account.key.set",
  keyGet: "account.key.get",
  keyRead: "account.key.get",
  keysPut: "keys.put",
  keysList: "keys.list",
  remove: "device.remove",
  leave: "sma.leave",
  token: "account.token",
  mailScan: "mail.scan",
});

/** Methods the UI calls. The rest of METHODS (expiry) are known but not offered in the UI. */
export const UI_METHODS = Object.freeze([...new Set(Object.values(OPERATIONS))]);

export function isKnownMethod(method) {
  return METHODS.includes(method) || NOTIFICATIONS.includes(method);
}
