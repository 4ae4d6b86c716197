// The controller against a simulated host, through the real HostPort and a fake runtime.

import { test } from "node:test";
import assert from "node:assert/strict";

import { HostPort, INSTALL_COMMAND } from "../modules/host-port.js";
import { OPERATIONS } from "../modules/catalogue.js";
import { STORAGE_PREFIX, createController } from "../modules/controller.js";
import { opStatus } from "../modules/state.js";
import { A, PEER, PID, SELF, SECRET_KEY, SETTINGS, callsAnswered, sim, startController } from "../test-support/sim-host.mjs";
import {
  FakeRuntime,
  FakeStorageArea,
  fakeExperiment,
  eventually,
  hostError,
  makeGetMessage,
  silentLogger,
  waitFor,
} from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();

const setup = startController;

/** Configure; once it succeeded, wait for the refresh it starts (its last calls: keys.list, account.key.get). */
async function configure(ctx, settings = SETTINGS) {
  const from = ctx.fake.calls.length;
  const reply = await ctx.controller.handleIntent({ op: "configure", account: A, settings, password: "hunter2" });
  if (reply.ok) await callsAnswered(ctx, from, ["keys.list", "account.key.get"]);
  return reply;
}

test("start: lists the mail accounts (IMAP, Local Folders, POP3; not news), prefilled, and connects to the host", async () => {
  const ctx = await setup();
  assert.deepEqual(ctx.state().order, [A, "account2", "account4"]);
  assert.equal(ctx.acc().settings.host, "imap.example.org");
  assert.equal(ctx.acc().settings.deviceName, "Thunderbird on Linux");
  assert.equal(ctx.state().byId.account4.settings.host, "imap.example.net");
  assert.equal(ctx.state().host.state, "connected");
  assert.equal(ctx.state().host.version, "0.1.0-test");
  assert.deepEqual(ctx.fake.methods(), ["hello"]);
});

test("configure: field errors without a call; then account.configure with remember, settings stored without the password", async () => {
  const ctx = await setup();
  const bad = await ctx.controller.handleIntent({ op: "configure", account: A, settings: { ...SETTINGS, port: 70000 }, password: "" });
  assert.deepEqual(Object.keys(bad.fieldErrors).sort(), ["password", "port"]);
  assert.deepEqual(ctx.fake.methods(), ["hello"]);

  const reply = await configure(ctx);
  assert.equal(reply.ok, true);
  const call = ctx.fake.calls.find((c) => c.method === "account.configure");
  assert.deepEqual(call.params, {
    account: A,
    email: "alice@example.org",
    device_name: "Laptop",
    imap: { host: "imap.example.org", port: 993, security: "tls", username: "alice@example.org", password: "hunter2" },
    remember: true,
  });
  assert.deepEqual(ctx.fake.methods().slice(1), ["account.configure", "sma.status", "pair.list", "keys.list", "account.key.get"]);
  assert.equal(ctx.acc().configured, true);
  assert.equal(opStatus(ctx.acc(), "configure").key, "noticeConfiguredRemembered");
  assert.equal(ctx.acc().passwordStorage, "keyring");
  const stored = ctx.storage.data[STORAGE_PREFIX + A];
  assert.equal(stored.configured, true);
  assert.equal(stored.remember, true);
  assert.equal(stored.host, "imap.example.org");
  assert.ok(!JSON.stringify(ctx.storage.data).includes("hunter2"), "password must never reach storage");
  assert.ok(!JSON.stringify(ctx.state()).includes("hunter2"), "password must never reach the UI state");
});

test("configure failure is shown in words and stays until the next attempt", async () => {
  const ctx = await setup({ handlers: { "account.configure": () => { throw hostError(-32012, "auth_failed"); } } });
  const reply = await configure(ctx);
  assert.equal(reply.ok, false);
  assert.equal(reply.error.reason, "auth_failed");
  const status = opStatus(ctx.acc(), "configure");
  assert.equal(status.kind, "error");
  assert.equal(status.text, getMessage("error_auth_failed"));
  assert.ok(!ctx.storage.data[STORAGE_PREFIX + A], "nothing stored after a failed test");
});

test("insecure_refused names the host", async () => {
  const ctx = await setup({ handlers: { "account.configure": (p) => { throw hostError(-32003, "insecure_refused", { host: p.imap.host }); } } });
  await configure(ctx, { ...SETTINGS, security: "none", port: 143 });
  assert.match(opStatus(ctx.acc(), "configure").text, /imap\.example\.org/);
});

test("a restarted host that lacks the password: refresh shows needsPassword", async () => {
  const ctx = await setup({
    saved: { [STORAGE_PREFIX + A]: { ...SETTINGS, configured: true, joined: true } },
    handlers: { "sma.status": (p) => { throw hostError(-32001, "unknown_account", { account: p.account, credentials_missing: true }); } },
  });
  await waitFor(() => ctx.acc().needsPassword === true);
  assert.ok(ctx.fake.methods().includes("sma.status"), "a configured account is refreshed on connect");
  assert.equal(opStatus(ctx.acc(), "status").text, getMessage("error_unknown_account_credentials_missing"));
  assert.equal(ctx.acc().settings.remember, true, "saved settings prefill the form");
});

test("sma.status pages are fetched until next_offset is gone", async () => {
  const page = (offset) => {
    const all = Array.from({ length: 5 }, (_, i) => ({ muaa_id: `000000000000000${i}`, name: `D${i}`, last_seen: 1, self: i === 0, paired: false }));
    const muaas = all.slice(offset, offset + 2);
    return { exists: true, self: "0000000000000000", muaas, total: 5, ...(offset + 2 < 5 ? { next_offset: offset + 2 } : {}) };
  };
  const ctx = await setup({ handlers: { "sma.status": (p) => page(p.offset ?? 0) } });
  await configure(ctx);
  const offsets = ctx.fake.calls.filter((c) => c.method === "sma.status").map((c) => c.params.offset);
  assert.deepEqual(offsets, [undefined, 2, 4]);
  assert.equal(ctx.acc().sma.muaas.length, 5);
  assert.equal(ctx.acc().sma.next_offset, undefined);
});

test("join, sync, pair request/cancel, remove and leave call their methods and refresh", async () => {
  const ctx = await setup();
  await configure(ctx);
  ctx.world.others = [{ muaa_id: PEER, name: "Desktop", last_seen: 1, self: false, paired: true }];
  assert.equal((await ctx.controller.handleIntent({ op: "join", account: A })).ok, true);
  assert.equal(ctx.acc().sma.self, SELF);
  assert.equal(ctx.storage.data[STORAGE_PREFIX + A].joined, true);
  await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.deepEqual(opStatus(ctx.acc(), "sync"), { kind: "notice", key: "noticeSynced", subs: ["2", "1"] });
  await ctx.controller.handleIntent({ op: "pairRequest", account: A });
  assert.equal(ctx.acc().outgoing.code, "12345-67890");
  await ctx.controller.handleIntent({ op: "pairCancel", account: A, pairing_id: PID });
  assert.equal(ctx.acc().outgoing.state, "failed");
  await ctx.controller.handleIntent({ op: "remove", account: A, muaa_id: PEER });
  assert.equal(ctx.acc().sma.muaas.filter((m) => !m.self).length, 0);
  await ctx.controller.handleIntent({ op: "leave", account: A });
  assert.equal(ctx.acc().sma.self, null);
  assert.equal(ctx.storage.data[STORAGE_PREFIX + A].joined, false);
  const methods = ctx.fake.methods();
  for (const m of ["sma.join", "sma.sync", "pair.request", "pair.cancel", "device.remove", "sma.leave"]) {
    assert.ok(methods.includes(m), m);
  }
});

test("pair request: without a choice no `to` (the host's default); a picked device goes as `to`; a malformed one is not sent", async () => {
  const ctx = await setup();
  await configure(ctx);
  await ctx.controller.handleIntent({ op: "join", account: A });
  const requests = () => ctx.fake.calls.filter((c) => c.method === "pair.request").map((c) => c.params);
  await ctx.controller.handleIntent({ op: "pairRequest", account: A });
  await ctx.controller.handleIntent({ op: "pairRequest", account: A, to: PEER });
  await ctx.controller.handleIntent({ op: "pairRequest", account: A, to: "not an id" });
  assert.deepEqual(requests(), [{ account: A }, { account: A, to: PEER }, { account: A }]);
});

test("every UI operation maps to a contract method that an intent (or account.token_needed, or new mail) calls", async () => {
  const ctx = await setup({ experiment: fakeExperiment({ [A]: { tokens: "fresh-token" } }) });
  await configure(ctx);
  await ctx.controller.handleIntent({ op: "join", account: A });
  const intents = [
    { op: "refresh", account: A },
    { op: "sync", account: A },
    { op: "pairRequest", account: A },
    { op: "pairAccept", account: A, pairing_id: PID, code: "12345 67890" },
    { op: "pairCancel", account: A, pairing_id: PID },
    { op: "keySet", account: A, armored: SECRET_KEY },
    { op: "keyGet", account: A },
    { op: "keysPut", account: A, addr: "bob@example.net", keyText: "bWFpbA==", mutual: true },
    { op: "remove", account: A, muaa_id: PEER },
    { op: "leave", account: A },
  ];
  for (const intent of intents) await ctx.controller.handleIntent(intent);
  await ctx.controller.newMail(A);
  ctx.fake.notify("account.token_needed", { account: A });
  await eventually(() => {
    const called = new Set(ctx.fake.methods());
    for (const [op, method] of Object.entries(OPERATIONS)) assert.ok(called.has(method), `${op} → ${method} never called`);
  });
});

test("incoming pairing: notification → browser notification → pair.accept with the normalized code", async () => {
  const ctx = await setup();
  await configure(ctx);
  ctx.fake.notify("pair.requested", { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop", expires_at: 1_700_000_600 });
  await waitFor(() => ctx.acc().incoming[PID]?.state === "waiting");
  assert.deepEqual(ctx.notified[0], {
    id: `pair-${PID}`,
    titleKey: "notifyPairRequestedTitle",
    messageKey: "notifyPairRequestedBody",
    subs: ["Desktop", "alice@example.org"],
  });
  const bad = await ctx.controller.handleIntent({ op: "pairAccept", account: A, pairing_id: PID, code: "1234" });
  assert.deepEqual(bad.fieldErrors, { code: "fieldErrorCode" });
  const reply = await ctx.controller.handleIntent({ op: "pairAccept", account: A, pairing_id: PID, code: "12345 - 67890" });
  assert.equal(reply.ok, true);
  assert.equal(ctx.fake.calls.at(-1).params.code, "1234567890");
  assert.equal(ctx.acc().incoming[PID].accepted, true);
  ctx.fake.notify("pair.completed", { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop" });
  await eventually(() => {
    assert.equal(ctx.acc().incoming[PID].state, "complete");
    assert.equal(ctx.notified.at(-1).titleKey, "notifyPairCompletedTitle");
    assert.equal(ctx.fake.methods().at(-1), "sma.status", "a completed pairing re-reads the devices");
  });
});

test("a wrong code: pair.failed reaches state and a notification", async () => {
  const ctx = await setup();
  await configure(ctx);
  ctx.fake.notify("pair.requested", { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop", expires_at: 1 });
  await ctx.controller.handleIntent({ op: "pairAccept", account: A, pairing_id: PID, code: "1111122222" });
  ctx.fake.notify("pair.failed", { account: A, pairing_id: PID, peer: PEER, reason: "confirmation_failed" });
  await eventually(() => {
    assert.equal(ctx.acc().incoming[PID].state, "failed");
    assert.equal(ctx.notified.at(-1).messageKey, "pairReason_confirmation_failed");
  });
});

test("sma.changed, device.paired and device.removed re-read the devices", async () => {
  const ctx = await setup();
  await configure(ctx);
  for (const [method, params] of [
    ["sma.changed", { account: A, muaas: 2 }],
    ["device.paired", { account: A, muaa_id: PEER, name: "Desktop", via: "00000000000000cc" }],
    ["device.removed", { account: A, muaa_id: SELF, self: true }],
  ]) {
    const before = ctx.fake.calls.length;
    ctx.fake.notify(method, params);
    await eventually(() => assert.deepEqual(ctx.fake.methods().slice(before), ["sma.status"], method));
  }
  assert.equal(ctx.notified.at(-1).titleKey, "notifyRemovedTitle");
});

test("account key: a non-key is refused locally; export returns the text but keeps it out of the state", async () => {
  const ctx = await setup();
  await configure(ctx);
  const bad = await ctx.controller.handleIntent({ op: "keySet", account: A, armored: "hello" });
  assert.deepEqual(bad.fieldErrors, { armored: "fieldErrorArmored" });
  assert.ok(!ctx.fake.methods().includes("account.key.set"));
  const none = await ctx.controller.handleIntent({ op: "keyGet", account: A });
  assert.equal(none.result.armored, null);
  assert.equal(opStatus(ctx.acc(), "keyGet").key, "noticeNoKey");
  await ctx.controller.handleIntent({ op: "keySet", account: A, armored: SECRET_KEY });
  const got = await ctx.controller.handleIntent({ op: "keyGet", account: A });
  assert.equal(got.result.armored, SECRET_KEY);
  assert.ok(!JSON.stringify(ctx.state()).includes("xcLYBF"));
  assert.ok(!JSON.stringify(ctx.storage.data).includes("xcLYBF"));
});

test("a second click while an operation is pending does not call twice", async () => {
  let release;
  const ctx = await setup({ handlers: { "sma.sync": () => new Promise((r) => { release = r; }) } });
  await configure(ctx);
  const first = ctx.controller.handleIntent({ op: "sync", account: A });
  await waitFor(() => ctx.fake.methods().includes("sma.sync"));
  const second = await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.equal(second.busy, true);
  assert.equal(opStatus(ctx.acc(), "sync").kind, "pending");
  release({ processed: 0, dropped: 0 });
  assert.equal((await first).ok, true);
  assert.equal(ctx.fake.methods().filter((m) => m === "sma.sync").length, 1);
});

test("host missing: state says so, every operation fails with the install command", async () => {
  const runtime = new FakeRuntime({ mode: "missing" });
  const ctx = await setup({ runtime });
  assert.equal(ctx.state().host.state, "host_missing");
  assert.equal(ctx.state().host.installCommand, INSTALL_COMMAND);
  const reply = await configure(ctx);
  assert.equal(reply.error.reason, "host_missing");
  assert.ok(opStatus(ctx.acc(), "configure").text.includes("sma-host install --user"));
  // installed meanwhile: retry connects
  runtime.mode = "ok";
  await ctx.controller.handleIntent({ op: "retryHost" });
  await waitFor(() => ctx.state().host.state === "connected");
});

test("the host dying mid-call: the call fails in words, the client reconnects", async () => {
  let fakeRef;
  const ctx = await setup({ handlers: { "sma.sync": () => { fakeRef.port.hostExit(); return new Promise(() => {}); } } });
  fakeRef = ctx.fake;
  await configure(ctx);
  const reply = await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.equal(reply.error.reason, "host_disconnected");
  assert.equal(opStatus(ctx.acc(), "sync").kind, "error");
  assert.equal(ctx.state().host.state, "reconnecting");
});

test("unknown intents are reported, not thrown", async () => {
  const ctx = await setup();
  const reply = await ctx.controller.handleIntent({ op: "frobnicate" });
  assert.equal(reply.ok, false);
  assert.equal(reply.error.reason, "unknown_intent");
});

test("accounts API failure is reported", async () => {
  const { host: fake } = sim();
  const host = new HostPort({ runtime: fake.runtime, getMessage, logger: silentLogger });
  const controller = createController({
    host,
    storage: new FakeStorageArea(),
    accounts: { list: async () => { throw new Error("accountsRead missing"); } },
    logger: silentLogger,
  });
  await controller.start();
  assert.equal(controller.getState().accountsError, "accountsRead missing");
});
