import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

import {
  accountSummary,
  anyTargetStatus,
  buildConfigureParams,
  devicesOf,
  formatCountdown,
  guessImapSettings,
  hostStatusMessage,
  incomingMessage,
  initialState,
  removedKeyNotice,
  isJoined,
  isValidPairingCode,
  keyFileName,
  lastSeenText,
  looksLikeArmoredSecretKey,
  normalizePairingCode,
  opStatus,
  outgoingMessage,
  offersPairTarget,
  pairFailureKey,
  pairRequestParams,
  pairTargets,
  PAIR_FAILURE_REASONS,
  reducer,
  removalLines,
  secondsLeft,
  smaHint,
  storableSettings,
  validateSettings,
} from "../modules/state.js";
import { REPO_DIR, loadMessages } from "../test-support/fakes.mjs";

const A = "account1";
const SELF = "00000000000000aa";
const PEER = "00000000000000bb";
const PID = "0123456789abcdef";

function withAccount(extra = {}) {
  let s = reducer(initialState(), {
    type: "accounts",
    accounts: [
      { id: A, name: "Work", type: "imap", emails: ["alice@example.org", "a@example.org"] },
      { id: "bad id!", name: "Broken", type: "imap", emails: [] },
    ],
    saved: extra.saved || {},
    deviceName: "Thunderbird on Linux",
  });
  return s;
}

function apply(state, ...actions) {
  return actions.reduce(reducer, state);
}

const ok = (op, result, params, target) => ({ type: "success", account: A, op, result, params, target });
const start = (op, target) => ({ type: "start", account: A, op, target });
const fail = (op, reason, data = {}, target) => ({
  type: "failure",
  account: A,
  op,
  target,
  error: { reason, text: `text of ${reason}`, data: { reason, ...data } },
});

test("guessImapSettings: imap.<domain>, port 993, TLS, the address as user name", () => {
  assert.deepEqual(guessImapSettings("Alice@Mail.Example.ORG"), {
    host: "imap.mail.example.org",
    port: 993,
    security: "tls",
    username: "Alice@Mail.Example.ORG",
  });
  assert.equal(guessImapSettings("nobody").host, "");
  assert.equal(guessImapSettings("").port, 993);
});

test("accounts: prefilled from the first identity, bad ids skipped, saved settings win", () => {
  const s = withAccount();
  assert.deepEqual(s.order, [A]);
  const a = s.byId[A];
  assert.equal(a.settings.email, "alice@example.org");
  assert.equal(a.settings.host, "imap.example.org");
  assert.equal(a.settings.port, 993);
  assert.equal(a.settings.security, "tls");
  assert.equal(a.settings.username, "alice@example.org");
  assert.equal(a.settings.deviceName, "Thunderbird on Linux");
  assert.equal(a.settings.remember, false);
  assert.equal(a.configured, false);
  const saved = withAccount({ saved: { [A]: { host: "mail.example.net", port: 143, security: "starttls", remember: true, configured: true, password: "x" } } });
  const b = saved.byId[A];
  assert.equal(b.settings.host, "mail.example.net");
  assert.equal(b.settings.security, "starttls");
  assert.equal(b.settings.remember, true);
  assert.equal(b.savedConfigured, true);
  assert.equal("password" in b.settings, false);
});

test("validateSettings names each bad field; buildConfigureParams matches the schema plus remember", () => {
  const good = { email: "a@example.org", deviceName: "Laptop", host: "imap.example.org", port: 993, security: "tls", username: "a", remember: true };
  assert.deepEqual(validateSettings(good, "pw"), {});
  assert.deepEqual(Object.keys(validateSettings(good, "")), ["password"]);
  assert.deepEqual(
    Object.keys(validateSettings({ ...good, email: "x", host: "a b", port: 0, security: "ssl", username: "", deviceName: "" }, "pw")).sort(),
    ["deviceName", "email", "host", "port", "security", "username"],
  );
  assert.deepEqual(buildConfigureParams(A, good, "pw"), {
    account: A,
    email: "a@example.org",
    device_name: "Laptop",
    imap: { host: "imap.example.org", port: 993, security: "tls", username: "a", password: "pw" },
    remember: true,
  });
  assert.equal(buildConfigureParams(A, { ...good, remember: false }, "pw").remember, false);
  // Only the schema's properties (account.configure.params.json) plus `remember`.
  const schema = JSON.parse(readFileSync(path.join(REPO_DIR, "host/sma_host/schemas/account.configure.params.json"), "utf8"));
  const params = buildConfigureParams(A, good, "pw");
  for (const key of Object.keys(params)) assert.ok(key in schema.properties || key === "remember", key);
  for (const key of schema.required) assert.ok(key in params, key);
  for (const key of Object.keys(params.imap)) assert.ok(key in schema.properties.imap.properties, key);
  for (const key of schema.properties.imap.required) assert.ok(key in params.imap, key);
});

test("storableSettings never keeps a password", () => {
  assert.deepEqual(storableSettings({ host: "h", password: "secret", imap: { password: "x" }, remember: true }), { host: "h", remember: true });
});

test("pairing codes: spaces and dashes ignored, exactly 10 digits", () => {
  assert.equal(normalizePairingCode(" 12345-67890 "), "1234567890");
  assert.ok(isValidPairingCode("12345 67890"));
  assert.ok(!isValidPairingCode("12345-6789"));
  assert.ok(!isValidPairingCode("12345-6789a"));
});

test("armored secret key check and export file name", () => {
  const key = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nabc\n-----END PGP PRIVATE KEY BLOCK-----\n";
  assert.ok(looksLikeArmoredSecretKey(key));
  assert.ok(!looksLikeArmoredSecretKey("-----BEGIN PGP PUBLIC KEY BLOCK-----\n-----END PGP PUBLIC KEY BLOCK-----"));
  assert.ok(!looksLikeArmoredSecretKey(key + "x".repeat(262_144)));
  assert.equal(keyFileName("alice@example.org"), "alice@example.org-account-key.asc");
  assert.equal(keyFileName("../../etc/pass wd"), ".._.._etc_pass_wd-account-key.asc");
});

test("an operation goes pending → error, and pending → notice; a new start clears both", () => {
  let s = apply(withAccount(), start("configure"));
  assert.deepEqual(opStatus(s.byId[A], "configure"), { kind: "pending", key: "pending_configure", subs: [] });
  s = reducer(s, fail("configure", "auth_failed"));
  assert.equal(opStatus(s.byId[A], "configure").kind, "error");
  assert.equal(opStatus(s.byId[A], "configure").text, "text of auth_failed");
  assert.equal(s.byId[A].configured, false);
  s = apply(s, start("configure"));
  assert.equal(opStatus(s.byId[A], "configure").kind, "pending");
  s = reducer(s, ok("configure", { account: A, capabilities: ["IDLE"] }, { settings: { host: "imap.x.org", password: "no" } }));
  const a = s.byId[A];
  assert.equal(a.configured, true);
  assert.equal(a.settings.host, "imap.x.org");
  assert.equal("password" in a.settings, false);
  assert.deepEqual(a.capabilities, ["IDLE"]);
  assert.equal(opStatus(a, "configure").kind, "notice");
  assert.deepEqual(a.pending, {});
});

test("configure notices say where the host keeps the password", () => {
  const configured = (remember, result) =>
    opStatus(reducer(withAccount(), ok("configure", { account: A, capabilities: [], ...result }, { settings: { remember } })).byId[A], "configure");
  assert.deepEqual(configured(true, { password_storage: "keyring" }), { kind: "notice", key: "noticeConfiguredRemembered", subs: ["imap.example.org", ""] });
  assert.deepEqual(configured(true, { password_storage: "memory", keyring_unavailable: "no backend" }), {
    kind: "notice",
    key: "noticeConfiguredNoKeyring",
    subs: ["imap.example.org", "no backend"],
  });
  assert.equal(configured(false, { password_storage: "memory" }).key, "noticeConfigured");
});

test("unknown_account with credentials_missing asks for the password", () => {
  let s = reducer(withAccount(), fail("status", "unknown_account", { credentials_missing: true }));
  assert.equal(s.byId[A].needsPassword, true);
  assert.equal(accountSummary(s.byId[A]).key, "summaryNeedsPassword");
  s = reducer(s, ok("configure", { account: A, capabilities: [] }, { settings: {} }));
  assert.equal(s.byId[A].needsPassword, false);
});

test("a new host process forgets which accounts are configured", () => {
  let s = reducer(withAccount(), ok("configure", { account: A, capabilities: [] }, { settings: {} }));
  s = reducer(s, { type: "host", status: { state: "connected", version: "1" } });
  assert.equal(s.byId[A].configured, true);
  s = reducer(s, { type: "host", status: { state: "reconnecting", detail: "x" } });
  s = reducer(s, { type: "host", status: { state: "connecting" } });
  assert.equal(s.byId[A].configured, false);
  assert.deepEqual(hostStatusMessage(s.host), { key: "hostConnecting", subs: [] });
});

test("host status messages for every state", () => {
  assert.equal(hostStatusMessage({ state: "connected", version: "0.1" }).key, "hostConnected");
  assert.equal(hostStatusMessage({ state: "host_missing" }).key, "hostMissing");
  assert.equal(hostStatusMessage({ state: "reconnecting", detail: "d" }).key, "hostReconnecting");
  assert.equal(hostStatusMessage({ state: "incompatible" }).key, "hostIncompatible");
  assert.equal(hostStatusMessage({ state: "disconnected" }).key, "hostDisconnected");
  assert.equal(hostStatusMessage({ state: "closed" }).key, "hostClosed");
  assert.equal(hostStatusMessage({ state: "idle" }).key, "hostConnecting");
  assert.equal(reducer(initialState(), { type: "host", status: { state: "host_missing" } }).host.installCommand, "make venv && .venv/bin/sma-host install --user");
});

const STATUS = {
  exists: true,
  self: SELF,
  removed: false,
  total: 2,
  muaas: [
    { muaa_id: SELF, name: "Laptop", last_seen: 1_700_000_000, self: true, paired: false },
    { muaa_id: PEER, name: "Desktop", last_seen: 1_699_990_000, self: false, paired: false },
  ],
};

test("the joined summary reads right for no, one and several other devices", () => {
  const summaryWith = (others) => {
    const muaas = [STATUS.muaas[0], ...others];
    let s = apply(withAccount(), start("join"), ok("join", { muaa_id: SELF, created_sma: true }));
    s = reducer(s, ok("status", { ...STATUS, total: muaas.length, muaas }));
    return accountSummary(s.byId[A]);
  };
  const peer = (id, paired) => ({ muaa_id: id, name: id, last_seen: 1_699_990_000, self: false, paired });
  assert.deepEqual(summaryWith([]), { key: "summaryJoinedAlone", subs: [] });
  assert.deepEqual(summaryWith([peer(PEER, true)]), { key: "summaryJoinedOne", subs: ["1"] });
  assert.deepEqual(summaryWith([peer(PEER, true), peer("00000000000000cc", false)]), {
    key: "summaryJoined",
    subs: ["1", "2"],
  });
  const messages = loadMessages();
  assert.equal(messages.summaryJoinedOne.message, "Joined; paired with $1 of 1 other device");
  assert.match(messages.summaryJoined.message, /\$2 other devices$/);
});

test("SMA status: not configured → not joined → joined → removed → left", () => {
  let s = withAccount();
  assert.equal(smaHint(s.byId[A]), "smaNeedsConfigure");
  s = reducer(s, ok("configure", { account: A, capabilities: [] }, { settings: {} }));
  assert.equal(smaHint(s.byId[A]), "smaLoading");
  s = reducer(s, ok("status", { exists: false, self: null, muaas: [] }));
  assert.equal(smaHint(s.byId[A]), "smaNotJoined");
  assert.equal(accountSummary(s.byId[A]).key, "summaryNotJoined");
  s = apply(s, start("join"), ok("join", { muaa_id: SELF, created_sma: true }));
  assert.ok(isJoined(s.byId[A]));
  s = reducer(s, ok("status", STATUS));
  assert.equal(smaHint(s.byId[A]), "smaJoined");
  assert.equal(devicesOf(s.byId[A]).self.name, "Laptop");
  assert.deepEqual(devicesOf(s.byId[A]).others.map((d) => d.muaa_id), [PEER]);
  assert.deepEqual(accountSummary(s.byId[A]), { key: "summaryJoinedOne", subs: ["0"] });
  s = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: SELF, self: true, by: PEER } });
  assert.equal(smaHint(s.byId[A]), "smaRemoved");
  assert.equal(s.byId[A].event.key, "eventThisDeviceRemoved");
  assert.ok(!isJoined(s.byId[A]));
  s = apply(s, ok("join", { muaa_id: "00000000000000cc", created_sma: false }), ok("status", { ...STATUS, self: "00000000000000cc" }));
  s = apply(s, start("leave"), ok("leave", { left: SELF, told: [PEER] }));
  assert.equal(s.byId[A].sma.self, null);
  assert.equal(opStatus(s.byId[A], "leave").key, "noticeLeft");
});

test("device.removed for this device: the account is marked removed, only Join is left", () => {
  const paired = { ...STATUS, muaas: STATUS.muaas.map((m) => (m.self ? m : { ...m, paired: true })) };
  let s = apply(withAccount(), start("join"), ok("join", { muaa_id: SELF, created_sma: true }), ok("status", paired));
  s = reducer(s, ok("pairRequest", { pairing_id: PID, code: "12345-67890", expires_at: 1_700_000_600, to: [PEER] }));
  assert.equal(opStatus(s.byId[A], "join").key, "noticeJoined");
  s = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: SELF, self: true, by: PEER } });
  const a = s.byId[A];
  assert.equal(a.sma.removed, true);
  assert.ok(!isJoined(a));
  assert.equal(smaHint(a), "smaRemoved");
  assert.equal(accountSummary(a).key, "summaryRemoved");
  assert.deepEqual(opStatus(a, "join"), { kind: "none" }, "the stale 'Joined.' notice is gone");
  assert.equal(a.outgoing, null);
  assert.deepEqual(a.incoming, {});
  assert.deepEqual(devicesOf(a).others.map((d) => d.paired), [false], "no device counts as paired any more");
  assert.equal(a.event.key, "eventThisDeviceRemoved");
  // Join again: joined, no longer removed.
  s = apply(s, start("join"), ok("join", { muaa_id: "00000000000000cc", created_sma: false }));
  assert.ok(isJoined(s.byId[A]));
  assert.equal(opStatus(s.byId[A], "join").key, "noticeJoined");
});

test("sma.status with removed: true (e.g. after a restart) gives the same removed state", () => {
  const paired = { ...STATUS, muaas: STATUS.muaas.map((m) => (m.self ? m : { ...m, paired: true })) };
  let s = apply(withAccount(), start("join"), ok("join", { muaa_id: SELF, created_sma: true }), ok("status", paired));
  s = reducer(s, ok("status", { ...paired, removed: true }));
  const a = s.byId[A];
  assert.equal(a.sma.removed, true);
  assert.equal(a.sma.self, SELF, "the host's answer is kept");
  assert.ok(!isJoined(a));
  assert.equal(smaHint(a), "smaRemoved");
  assert.deepEqual(opStatus(a, "join"), { kind: "none" });
  assert.deepEqual(devicesOf(a).others.map((d) => d.paired), [false]);
  // A fresh state (restart) reading the same status agrees.
  const fresh = reducer(withAccount(), ok("status", { ...paired, removed: true })).byId[A];
  assert.equal(smaHint(fresh), "smaRemoved");
  assert.deepEqual(devicesOf(fresh).others.map((d) => d.paired), [false]);
  // sync saying removed: true does the same.
  const synced = apply(withAccount(), ok("join", { muaa_id: SELF }), ok("status", paired), ok("sync", { processed: 0, removed: true }));
  assert.equal(smaHint(synced.byId[A]), "smaRemoved");
  assert.deepEqual(opStatus(synced.byId[A], "join"), { kind: "none" });
  assert.deepEqual(devicesOf(synced.byId[A]).others.map((d) => d.paired), [false]);
});

test("device.removed for another device drops only its row, this device stays joined", () => {
  let s = apply(withAccount(), ok("join", { muaa_id: SELF }), ok("status", STATUS));
  s = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: PEER, self: false, by: SELF } });
  assert.deepEqual(devicesOf(s.byId[A]).others, []);
  assert.equal(devicesOf(s.byId[A]).self.muaa_id, SELF);
  assert.ok(isJoined(s.byId[A]));
  assert.equal(s.byId[A].event.key, "eventDeviceRemoved");
  assert.equal(opStatus(s.byId[A], "join").key, "noticeJoined");
});

test("sync result: counts noticed, removal detected", () => {
  let s = apply(withAccount(), ok("status", STATUS), start("sync"));
  assert.equal(opStatus(s.byId[A], "sync").kind, "pending");
  s = reducer(s, ok("sync", { processed: 4, dropped: 1, sent: 2 }));
  assert.deepEqual(opStatus(s.byId[A], "sync"), { kind: "notice", key: "noticeSynced", subs: ["4", "2"] });
  s = reducer(s, ok("sync", { processed: 0, dropped: 0, removed: true }));
  assert.equal(s.byId[A].sma.removed, true);
});

test("not_joined marks the device as not joined", () => {
  const s = apply(withAccount(), ok("status", STATUS), fail("sync", "not_joined"));
  assert.equal(s.byId[A].sma.self, null);
  assert.equal(opStatus(s.byId[A], "sync").text, "text of not_joined");
});

test("outgoing pairing: request → code shown, waiting → completed with key", () => {
  let s = apply(withAccount(), ok("status", STATUS), start("pairRequest"));
  assert.equal(opStatus(s.byId[A], "pairRequest").key, "pending_pairRequest");
  s = reducer(s, ok("pairRequest", { pairing_id: PID, code: "12345-67890", expires_at: 1_700_000_600, to: [PEER] }));
  const out = s.byId[A].outgoing;
  assert.equal(out.code, "12345-67890");
  assert.equal(out.state, "waiting");
  assert.equal(outgoingMessage(out).key, "pairWaiting");
  s = reducer(s, {
    type: "notification",
    method: "pair.completed",
    params: { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop", account_key_received: true },
  });
  const a = s.byId[A];
  assert.equal(a.outgoing.state, "complete");
  assert.deepEqual(outgoingMessage(a.outgoing), { key: "eventPairCompletedWithKey", subs: ["Desktop"] });
  assert.equal(a.keyAvailable, true);
  assert.equal(devicesOf(a).others[0].paired, true);
  assert.equal(a.event.key, "eventPairCompletedWithKey");
});

test("outgoing pairing: cancel and failure reasons", () => {
  let s = apply(withAccount(), ok("pairRequest", { pairing_id: PID, code: "11111-22222", expires_at: 10 }));
  s = apply(s, start("pairCancel", PID), ok("pairCancel", { pairing_id: PID, state: "failed" }, undefined, PID));
  assert.equal(s.byId[A].outgoing.state, "failed");
  assert.equal(outgoingMessage(s.byId[A].outgoing).key, "pairReason_cancelled");
  s = apply(s, ok("pairRequest", { pairing_id: PID, code: "11111-22222", expires_at: 10 }));
  s = reducer(s, { type: "notification", method: "pair.failed", params: { account: A, pairing_id: PID, peer: null, reason: "expired" } });
  assert.equal(s.byId[A].outgoing.state, "expired");
  assert.equal(outgoingMessage(s.byId[A].outgoing).key, "pairReason_expired");
  assert.equal(pairFailureKey("peer_confirmation_failed"), "pairReason_peer_confirmation_failed");
  assert.equal(pairFailureKey("weird"), "pairReason_other");
  assert.equal(PAIR_FAILURE_REASONS.length, 8);
});

test("incoming pairing: request notification → code accepted → completed; failures", () => {
  let s = apply(withAccount(), ok("status", STATUS));
  s = reducer(s, {
    type: "notification",
    method: "pair.requested",
    params: { account: A, pairing_id: PID, peer: PEER, peer_name: "<b>Desktop</b>", expires_at: 1_700_000_600 },
  });
  let p = s.byId[A].incoming[PID];
  assert.equal(p.state, "waiting");
  assert.equal(p.peer_name, "<b>Desktop</b>"); // kept as text; the view sets textContent
  assert.equal(incomingMessage(p), null);
  assert.deepEqual(accountSummary(s.byId[A]), { key: "summaryIncomingOne", subs: [] });
  assert.deepEqual(s.byId[A].event, { key: "eventPairRequested", subs: ["<b>Desktop</b>"] });
  s = apply(s, start("pairAccept", PID));
  assert.equal(opStatus(s.byId[A], "pairAccept", PID).kind, "pending");
  s = reducer(s, ok("pairAccept", { pairing_id: PID, state: "waiting" }, undefined, PID));
  p = s.byId[A].incoming[PID];
  assert.equal(p.accepted, true);
  assert.equal(incomingMessage(p).key, "pairAcceptedWaiting");
  s = reducer(s, { type: "notification", method: "pair.completed", params: { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop" } });
  assert.equal(s.byId[A].incoming[PID].state, "complete");
  assert.equal(incomingMessage(s.byId[A].incoming[PID]).key, "eventPairCompleted");

  // a wrong code: the host answers pairing_failed later through pair.failed
  let t = reducer(withAccount(), { type: "notification", method: "pair.requested", params: { account: A, pairing_id: PID, peer: PEER, peer_name: "D", expires_at: 5 } });
  t = reducer(t, fail("pairAccept", "pairing_expired", {}, PID));
  assert.equal(t.byId[A].incoming[PID].state, "expired");
  assert.equal(opStatus(t.byId[A], "pairAccept", PID).text, "text of pairing_expired");
  t = reducer(t, { type: "notification", method: "pair.failed", params: { account: A, pairing_id: PID, peer: PEER, reason: "confirmation_failed" } });
  assert.equal(incomingMessage(t.byId[A].incoming[PID]).key, "pairReason_confirmation_failed");
});

test("pair.list fills incoming requests and updates the outgoing one", () => {
  let s = apply(withAccount(), ok("pairRequest", { pairing_id: "1111111111111111", code: "11111-22222", expires_at: 10 }));
  s = reducer(
    s,
    ok("pairList", {
      pairings: [
        { pairing_id: PID, peer: PEER, peer_name: "D", direction: "incoming", state: "waiting", expires_at: 9 },
        { pairing_id: "2222222222222222", peer: PEER, peer_name: "D", direction: "incoming", state: "complete", expires_at: 1 },
        { pairing_id: "1111111111111111", peer: PEER, peer_name: "D", direction: "outgoing", state: "complete", expires_at: 10 },
      ],
    }),
  );
  assert.deepEqual(Object.keys(s.byId[A].incoming), [PID]);
  assert.equal(s.byId[A].outgoing.state, "complete");
});

test("device notifications: paired, removed, left; sma.changed marks stale; keys.changed", () => {
  let s = apply(withAccount(), ok("status", STATUS));
  s = reducer(s, { type: "notification", method: "device.paired", params: { account: A, muaa_id: "00000000000000dd", name: "Phone", via: PEER } });
  assert.deepEqual(devicesOf(s.byId[A]).others.map((d) => [d.name, d.paired]), [["Desktop", false], ["Phone", true]]);
  s = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: "00000000000000dd", self: false, by: PEER } });
  assert.equal(s.byId[A].event.key, "eventDeviceRemoved");
  assert.equal(devicesOf(s.byId[A]).others.length, 1);
  s = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: PEER, self: false, by: PEER } });
  assert.equal(s.byId[A].event.key, "eventDeviceLeft");
  s = reducer(s, { type: "notification", method: "sma.changed", params: { account: A, muaas: 3 } });
  assert.equal(s.byId[A].stale, true);
  s = reducer(s, { type: "notification", method: "keys.changed", params: { account: A, addrs: ["a@x", "b@x"] } });
  assert.deepEqual(s.byId[A].event, { key: "eventKeysChanged", subs: ["2"] });
  // notifications for unknown accounts change nothing
  assert.equal(reducer(s, { type: "notification", method: "sma.changed", params: { account: "nope" } }), s);
});

test("remove device: pending per device, row gone on success, error kept per device", () => {
  let s = apply(withAccount(), ok("status", STATUS), start("remove", PEER));
  assert.equal(anyTargetStatus(s.byId[A], "remove").kind, "pending");
  s = reducer(s, fail("remove", "connection_failed", {}, PEER));
  assert.equal(anyTargetStatus(s.byId[A], "remove").text, "text of connection_failed");
  s = apply(s, start("remove", PEER), ok("remove", { removed: PEER, told: [] }, undefined, PEER));
  assert.equal(devicesOf(s.byId[A]).others.length, 0);
  assert.deepEqual(anyTargetStatus(s.byId[A], "remove"), { kind: "notice", key: "noticeRemoved", subs: [PEER] });
});

test("remove device: who has not confirmed yet, by name, refreshed by device.remove again", () => {
  const X = "00000000000000cc";
  const PHONE = "00000000000000dd";
  const three = {
    ...STATUS,
    total: 4,
    muaas: [
      ...STATUS.muaas.map((m) => (m.self ? m : { ...m, paired: true })),
      { muaa_id: X, name: "Old phone", last_seen: 1_699_000_000, self: false, paired: true },
      { muaa_id: PHONE, name: "Phone", last_seen: 1_699_900_000, self: false, paired: true },
    ],
  };
  let s = apply(withAccount(), ok("status", three));
  assert.deepEqual(removalLines(s.byId[A]), []);
  // A peer sma.status does not list (its announcement is gone) is named by its id.
  const ghost = "00000000000000ee";
  s = reducer(s, ok("remove", { removed: X, told: [PEER, PHONE, ghost], confirmed: [], waiting: [PEER, PHONE, ghost] }, undefined, X));
  assert.deepEqual(devicesOf(s.byId[A]).others.map((m) => m.muaa_id), [PEER, PHONE]);
  assert.deepEqual(s.byId[A].removals[X], { muaa_id: X, name: "Old phone", confirmed: [], waiting: [PEER, PHONE, ghost] });
  assert.deepEqual(removalLines(s.byId[A]), [
    { muaa_id: X, key: "removalWaiting", subs: ["Old phone", `Desktop, Phone, ${ghost}`], waiting: true },
  ]);
  // Asked again (the device is gone from sma.status): its name is kept, the lists replaced.
  s = apply(s, ok("status", { ...three, muaas: three.muaas.filter((m) => m.muaa_id !== X) }));
  s = reducer(s, ok("remove", { removed: X, told: [], confirmed: [PEER, ghost], waiting: [PHONE] }, undefined, X));
  assert.deepEqual(removalLines(s.byId[A]), [
    { muaa_id: X, key: "removalWaiting", subs: ["Old phone", "Phone"], waiting: true },
  ]);
  s = reducer(s, ok("remove", { removed: X, told: [], confirmed: [PEER, PHONE, ghost], waiting: [] }, undefined, X));
  assert.deepEqual(removalLines(s.byId[A]), [{ muaa_id: X, key: "removalConfirmed", subs: ["Old phone"], waiting: false }]);
  // Only ids and a name are kept.
  assert.deepEqual(Object.keys(s.byId[A].removals[X]).sort(), ["confirmed", "muaa_id", "name", "waiting"]);

  // No other peer: nothing to wait for, said as such. An older host (no waiting[]) adds no line.
  let lone = apply(withAccount(), ok("status", STATUS), ok("remove", { removed: PEER, told: [], confirmed: [], waiting: [] }, undefined, PEER));
  assert.deepEqual(removalLines(lone.byId[A]), [{ muaa_id: PEER, key: "removalNoPeers", subs: ["Desktop"], waiting: false }]);
  lone = apply(withAccount(), ok("status", STATUS), ok("remove", { removed: PEER, told: [] }, undefined, PEER));
  assert.deepEqual(removalLines(lone.byId[A]), []);

  // Leaving, or this device being removed, ends the watch.
  const left = apply(s, ok("leave", { left: SELF, told: [] }));
  assert.deepEqual(left.byId[A].removals, {});
  const gone = reducer(s, { type: "notification", method: "device.removed", params: { account: A, muaa_id: SELF, self: true, by: PEER } });
  assert.deepEqual(gone.byId[A].removals, {});
});

test("pairing targets: the unpaired announced devices, most recently seen first; a choice only with more than one", () => {
  const X = "00000000000000cc";
  const NEVER = "00000000000000dd";
  let s = apply(withAccount(), ok("status", STATUS));
  assert.deepEqual(pairTargets(s.byId[A]), [{ muaa_id: PEER, name: "Desktop", last_seen: 1_699_990_000 }]);
  assert.equal(offersPairTarget(s.byId[A]), false, "one candidate: the host's default asks it anyway");
  s = reducer(s, ok("status", {
    ...STATUS,
    total: 5,
    muaas: [
      ...STATUS.muaas,
      { muaa_id: NEVER, name: "", last_seen: null, self: false, paired: false },
      { muaa_id: X, name: "Phone", last_seen: 1_699_999_000, self: false, paired: false },
      { muaa_id: "00000000000000ee", name: "Paired one", last_seen: 1_700_000_000, self: false, paired: true },
      { muaa_id: "not-an-id", name: "Broken", last_seen: 1_700_000_000, self: false, paired: false },
    ],
  }));
  assert.deepEqual(pairTargets(s.byId[A]).map((t) => [t.muaa_id, t.name]), [[X, "Phone"], [PEER, "Desktop"], [NEVER, NEVER]]);
  assert.equal(offersPairTarget(s.byId[A]), true);
  assert.equal(offersPairTarget(withAccount().byId[A]), false, "before sma.status");
  assert.deepEqual(pairRequestParams(A, ""), { account: A });
  assert.deepEqual(pairRequestParams(A, undefined), { account: A });
  assert.deepEqual(pairRequestParams(A, X), { account: A, to: X });
  assert.deepEqual(pairRequestParams(A, "X; DROP"), { account: A });
});

test("account key: set and get notices; dismiss clears", () => {
  let s = apply(withAccount(), start("keySet"), ok("keySet", { account: A, stored: true }));
  assert.equal(opStatus(s.byId[A], "keySet").key, "noticeKeyStored");
  s = reducer(s, ok("keyGet", { armored: null }));
  assert.equal(opStatus(s.byId[A], "keyGet").key, "noticeNoKey");
  s = reducer(s, ok("keyGet", { armored: "-----BEGIN PGP PRIVATE KEY BLOCK-----" }));
  assert.equal(opStatus(s.byId[A], "keyGet").key, "noticeKeyReady");
  assert.ok(!JSON.stringify(s).includes("BEGIN PGP"), "the key itself is never kept in the state");
  s = reducer(s, { type: "dismiss", account: A, key: "keyGet" });
  assert.equal(opStatus(s.byId[A], "keyGet").kind, "none");
});

test("time helpers", () => {
  const now = 1_700_000_000_000;
  assert.equal(lastSeenText(1_700_000_000 - 30, now).key, "lastSeenJustNow");
  assert.deepEqual(lastSeenText(1_700_000_000 - 600, now), { key: "lastSeenMinutes", subs: ["10"] });
  assert.deepEqual(lastSeenText(1_700_000_000 - 3 * 3600, now), { key: "lastSeenHours", subs: ["3"] });
  assert.deepEqual(lastSeenText(1_700_000_000 - 5 * 86400, now), { key: "lastSeenDays", subs: ["5"] });
  assert.equal(lastSeenText(null, now).key, "lastSeenUnknown");
  assert.equal(secondsLeft(1_700_000_090, now), 90);
  assert.equal(secondsLeft(1, now), 0);
  assert.equal(formatCountdown(90), "1:30");
  assert.equal(formatCountdown(5), "0:05");
});

test("every message key the state functions produce exists", () => {
  const messages = loadMessages();
  const keys = [
    ...["connected", "reconnecting", "host_missing", "incompatible", "disconnected", "closed", "idle"].map((st) => hostStatusMessage({ state: st }).key),
    ...PAIR_FAILURE_REASONS.map(pairFailureKey),
    pairFailureKey("x"),
    "smaNeedsConfigure",
    "smaLoading",
    "smaRemoved",
    "smaNotJoined",
    "smaJoined",
  ];
  for (const key of keys) assert.ok(messages[key], key);
});

test("a removed device says whether Thunderbird still uses the account key the host forgot", () => {
  const FPR = "AAAA1111BBBB2222CCCC3333DDDD4444EEEE5555";
  const held = { type: "notification", method: "account_key.changed", params: { account: A, fingerprint: FPR } };
  const removed = { type: "notification", method: "device.removed", params: { account: A, muaa_id: SELF, self: true, by: PEER } };
  const tb = (fingerprint) => ({
    type: "identityKey",
    account: A,
    answer: { available: true, key: fingerprint ? { fingerprint, userId: "Alice <a@example.org>", created: "2026-11-01T00:00:00Z" } : null },
  });
  let s = apply(withAccount(), start("join"), ok("join", { muaa_id: SELF, created_sma: true }), ok("status", STATUS), held, tb(FPR));
  assert.equal(removedKeyNotice(s.byId[A]), null, "nothing to say while joined");
  s = apply(s, removed, ok("keyRead", { armored: null, fingerprint: null, set_at: null }));
  assert.deepEqual(removedKeyNotice(s.byId[A]), { key: "removedKeyInThunderbird", subs: [FPR] });
  assert.equal(JSON.stringify(s).includes("PRIVATE KEY"), false);
  s = reducer(s, tb("FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000"));
  assert.deepEqual(removedKeyNotice(s.byId[A]), { key: "removedKeyNotInThunderbird", subs: [] });
  s = reducer(s, { type: "identityKey", account: A, answer: { available: false, reason: "experiment_missing" } });
  assert.equal(removedKeyNotice(s.byId[A]), null, "without Thunderbird's answer the page says nothing");
});
