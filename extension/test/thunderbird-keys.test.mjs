// The controller's OpenPGP half (modules/thunderbird-keys.js) against a simulated host and
// a fake Experiment (createThunderbirdOpenPGP over fakeOpenPGP): "Share this key with my
// devices", "Install in Thunderbird", correspondents' keys into Thunderbird's collected
// keys, new mail → mail.scan, the fallbacks, and where secrets go (only host ↔ Thunderbird).

import { test } from "node:test";
import assert from "node:assert/strict";

import { STORAGE_PREFIX } from "../modules/controller.js";
import { keyCard, opStatus } from "../modules/state.js";
import { COLLECTED_SOURCE } from "../modules/thunderbird-openpgp.js";
import { A, KEY_FINGERPRINT, SETTINGS, startController } from "../test-support/sim-host.mjs";
import { eventually, fakeOpenPGP, hostError, makeGetMessage, waitFor } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();
const EXPORTED = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nexported-by-thunderbird\n-----END PGP PRIVATE KEY BLOCK-----\n";
const ONE_TIME = "one-time-passphrase-0123456789";
const TB_KEY = { fingerprint: KEY_FINGERPRINT, userId: "Alice <alice@example.org>", created: "2020-09-13T12:26:40.000Z" };
const OTHER_FPR = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
const CONFIGURED = { [STORAGE_PREFIX + A]: { ...SETTINGS, configured: true, joined: true } };

async function setup({ tb = {}, handlers = {}, openpgp, world = {} } = {}) {
  const fake = openpgp ?? fakeOpenPGP({ [A]: { identityKey: null, export: { armored: EXPORTED, passphrase: ONE_TIME }, install: KEY_FINGERPRINT, ...tb } });
  const ctx = await startController({ handlers, saved: CONFIGURED, openpgp: fake });
  Object.assign(ctx.world, world);
  await ctx.controller.refresh(A);
  return { ...ctx, tb: fake };
}

const intent = async (ctx, op) => {
  return ctx.controller.handleIntent({ op, account: A });
};

/** Neither storage.local, the UI state nor `reply` (what a page gets) holds `secret`. */
function assertNowhere(ctx, secret, reply = {}) {
  assert.ok(!JSON.stringify(ctx.storage.data).includes(secret), "a secret reached storage.local");
  assert.ok(!JSON.stringify(ctx.controller.getState()).includes(secret), "a secret reached the UI state");
  assert.ok(!JSON.stringify(reply).includes(secret), "a secret reached the page's reply");
}

test("share: the identity's key is on the card; one click exports it and calls account.key.set with key and one-time passphrase", async () => {
  const ctx = await setup({ tb: { identityKey: TB_KEY }, world: { joined: true } });
  assert.deepEqual(keyCard(ctx.acc()).share, { kind: "offer", key: TB_KEY });
  assert.equal(keyCard(ctx.acc()).manual.open, false, "the paste and file paths stay folded");
  const reply = await intent(ctx, "keyShare");
  assert.equal(reply.ok, true);
  const sets = ctx.fake.calls.filter((c) => c.method === "account.key.set").map((c) => c.params);
  assert.deepEqual(sets, [{ account: A, armored: EXPORTED, passphrase: ONE_TIME }]);
  assert.deepEqual(ctx.acc().accountKey, { fingerprint: KEY_FINGERPRINT });
  assert.deepEqual(opStatus(ctx.acc(), "keyShare"), { kind: "notice", key: "noticeKeyShared", subs: ["1"] });
  assert.deepEqual(keyCard(ctx.acc()).install, { kind: "installed", fingerprint: KEY_FINGERPRINT }, "this device's Thunderbird has it");
  assert.deepEqual(keyCard(ctx.acc()).share, { kind: "shared" }, "the account key now: nothing more to share");
  assertNowhere(ctx, ONE_TIME, reply);
  assertNowhere(ctx, "exported-by-thunderbird", reply);
});

test("share when Thunderbird cannot: no key, a cancelled prompt, no Experiment; nothing reaches the host", async () => {
  const none = await setup();
  assert.deepEqual(keyCard(none.acc()).share, { kind: "none" });
  for (const [tb, reason] of [
    [{ identityKey: TB_KEY, export: new Error("export_failed: the passphrase prompt was cancelled") }, "export_failed"],
    [{ identityKey: TB_KEY, export: new Error("no_key: nothing to export") }, "no_key"],
    [{ identityKey: TB_KEY, export: new Error("something odd") }, "failed"],
  ]) {
    const ctx = await setup({ tb });
    const reply = await intent(ctx, "keyShare");
    assert.equal(reply.ok, false, reason);
    assert.equal(reply.error.reason, reason);
    const status = opStatus(ctx.acc(), "keyShare");
    assert.equal(status.key, `openpgp_${reason}`);
    assert.ok(getMessage(status.key), `a sentence for ${reason}`);
    assert.ok(!ctx.fake.methods().includes("account.key.set"), reason);
  }
  const bare = await setup({ openpgp: {} });
  assert.deepEqual(keyCard(bare.acc()).share, { kind: "unavailable", reason: "experiment_missing" });
  assert.deepEqual(keyCard(bare.acc()).manual, { open: true, reason: "experiment_missing" });
  assert.equal((await intent(bare, "keyShare")).error.reason, "experiment_missing");
  assert.ok(!bare.fake.methods().includes("account.key.set"));
});

test("share: the host refuses the key: its words on the button's line", async () => {
  const ctx = await setup({
    tb: { identityKey: TB_KEY },
    handlers: { "account.key.set": () => { throw hostError(-32602, "invalid_key", { path: "$.armored" }); } },
  });
  const reply = await intent(ctx, "keyShare");
  assert.equal(reply.error.reason, "invalid_key");
  const status = opStatus(ctx.acc(), "keyShare");
  assert.equal(status.kind, "error");
  assert.ok(status.text.startsWith(getMessage("error_invalid_key", ["", ""]).trim()), status.text);
  assertNowhere(ctx, ONE_TIME, reply);
});

test("install: the key sma-host holds is offered by fingerprint; after the confirmation account.key.get → installAccountKey with its passphrase", async () => {
  const ctx = await setup({ world: { key: EXPORTED, passphrase: ONE_TIME } });
  await ctx.controller.refresh(A);
  await eventually(() => assert.deepEqual(keyCard(ctx.acc()).install, { kind: "offer", fingerprint: KEY_FINGERPRINT }));
  assert.deepEqual(ctx.tb.installed, [], "nothing installed before the click");
  const reply = await intent(ctx, "keyInstall");
  assert.equal(reply.ok, true);
  assert.deepEqual(ctx.tb.installed, [{ accountId: A, armored: EXPORTED, passphrase: ONE_TIME }]);
  assert.deepEqual(opStatus(ctx.acc(), "keyInstall").key, "noticeKeyInstalled");
  await eventually(() => assert.deepEqual(keyCard(ctx.acc()).install, { kind: "installed", fingerprint: KEY_FINGERPRINT }, "the identity key was read again"));
  assertNowhere(ctx, ONE_TIME, reply);
  assertNowhere(ctx, "exported-by-thunderbird", reply);
});

test("install: account_key.changed offers the new key at once; the same fingerprint already in Thunderbird is said instead", async () => {
  const ctx = await setup({ tb: { identityKey: { ...TB_KEY, fingerprint: OTHER_FPR } } });
  assert.deepEqual(keyCard(ctx.acc()).install, { kind: "none" }, "no account key here yet");
  ctx.world.key = EXPORTED;
  ctx.fake.notify("account_key.changed", { account: A, fingerprint: KEY_FINGERPRINT });
  await eventually(() => assert.deepEqual(keyCard(ctx.acc()).install, { kind: "offer", fingerprint: KEY_FINGERPRINT }));
  assert.ok(ctx.tb.calls.filter((c) => c.name === "getIdentityKey").length >= 2, "Thunderbird's key read again");

  const same = await setup({ tb: { identityKey: TB_KEY }, world: { key: EXPORTED } });
  await same.controller.refresh(A);
  await eventually(() => assert.deepEqual(keyCard(same.acc()).install, { kind: "installed", fingerprint: KEY_FINGERPRINT }));
});

test("install when it cannot: a wrong passphrase, no key held, no Experiment (no button then)", async () => {
  const wrong = await setup({ tb: { install: new Error("wrong_passphrase: the passphrase does not unlock it") }, world: { key: EXPORTED, passphrase: "x" } });
  const reply = await intent(wrong, "keyInstall");
  assert.equal(reply.error.reason, "wrong_passphrase");
  assert.equal(opStatus(wrong.acc(), "keyInstall").key, "openpgp_wrong_passphrase");

  const empty = await setup();
  assert.equal((await intent(empty, "keyInstall")).error.reason, "no_key");
  assert.deepEqual(empty.tb.installed, []);

  const bare = await setup({ openpgp: {}, world: { key: EXPORTED } });
  await bare.controller.refresh(A);
  assert.deepEqual(keyCard(bare.acc()).install, { kind: "none" }, "without the Experiment: the file export instead");
  assert.equal((await intent(bare, "keyInstall")).error.reason, "experiment_missing");
});

test("the manual export gives the page the key but never its passphrase", async () => {
  const ctx = await setup({ world: { key: EXPORTED, passphrase: ONE_TIME } });
  const reply = await intent(ctx, "keyGet");
  assert.equal(reply.result.armored, EXPORTED);
  assertNowhere(ctx, ONE_TIME, reply);
});

const entry = (i, ts = 1_700_000_000) => ({
  addr: `peer${String(i).padStart(4, "0")}@example.net`,
  keydata: `bWFpbA${i}==`,
  prefer_encrypt: "mutual",
  autocrypt_timestamp: ts,
  last_seen: ts,
  fingerprint: `FPR${i}`,
});

test("collected keys: the whole keyring once at start, then only new or changed entries on keys.changed", async () => {
  const ctx = await setup({ world: { keyring: [entry(1), entry(2)] } });
  await waitFor(() => ctx.tb.collected.length > 0);
  assert.deepEqual(ctx.tb.collected, [
    [
      { email: "peer0001@example.net", keydata: "bWFpbA1==", source: COLLECTED_SOURCE },
      { email: "peer0002@example.net", keydata: "bWFpbA2==", source: COLLECTED_SOURCE },
    ],
  ]);
  ctx.world.keyring = [entry(1), { ...entry(2, 1_700_000_100), keydata: "bmV3", fingerprint: "NEW" }, entry(3)];
  ctx.fake.notify("keys.changed", { account: A, addrs: ["peer0002@example.net", "peer0003@example.net"] });
  await waitFor(() => ctx.tb.collected.length === 2);
  assert.deepEqual(ctx.tb.collected.at(-1).map((k) => [k.email, k.keydata]), [
    ["peer0002@example.net", "bmV3"],
    ["peer0003@example.net", "bWFpbA3=="],
  ]);
  // keys.changed re-reads the keyring (keys.list); once read, nothing new is given.
  const listed = ctx.fake.methods().filter((m) => m === "keys.list").length;
  ctx.fake.notify("keys.changed", { account: A, addrs: [] });
  await waitFor(() => ctx.fake.methods().filter((m) => m === "keys.list").length > listed && ctx.acc().keyringStale === false);
  await ctx.controller.refresh(A); // and one more whole read-through after it
  assert.equal(ctx.tb.collected.length, 2, "nothing new: nothing given");
});

test("collected keys: at most 1000 per call; a refused batch is given again next time; none without the Experiment", async () => {
  const many = Array.from({ length: 2500 }, (_, i) => entry(i));
  const ctx = await setup({ world: { keyring: many } });
  await eventually(() => assert.deepEqual(ctx.tb.collected.map((b) => b.length), [1000, 1000, 500]));

  const accounts = { [A]: { identityKey: null }, collectError: new Error("unavailable: no CollectedKeysDB") };
  const tb = fakeOpenPGP(accounts);
  const failing = await setup({ openpgp: tb, world: { keyring: [entry(1)] } });
  assert.deepEqual(tb.collected, []);
  delete accounts.collectError;
  failing.fake.notify("keys.changed", { account: A, addrs: [] });
  await eventually(() => assert.deepEqual(tb.collected.map((b) => b.map((k) => k.email)), [["peer0001@example.net"]]));

  const bare = await setup({ openpgp: {}, world: { keyring: [entry(1)] } });
  assert.equal(bare.acc().keyring.peers.length, 1, "the table still shows them");
});

test("new mail: mail.scan for an account sma-host knows, none for others; what it changed is re-read and given to Thunderbird", async () => {
  let updated = [];
  const ctx = await setup({ handlers: { "mail.scan": () => ({ scanned: 1, updated }) } });
  const lists = () => ctx.fake.methods().filter((m) => m === "keys.list").length;
  const before = lists();
  await ctx.controller.newMail(A);
  await ctx.controller.newMail("account4");
  await ctx.controller.newMail("nope");
  assert.deepEqual(ctx.fake.calls.filter((c) => c.method === "mail.scan").map((c) => c.params), [{ account: A }]);
  assert.equal(opStatus(ctx.acc(), "mailScan").kind, "none", "nothing to read on the page");
  assert.equal(lists(), before, "nothing changed: the keyring is not re-read");

  ctx.world.keyring = [entry(7)];
  updated = ["peer0007@example.net"];
  await ctx.controller.newMail(A);
  await eventually(() => assert.deepEqual(ctx.tb.collected.at(-1).map((k) => k.email), ["peer0007@example.net"]));
  assert.equal(lists(), before + 1);
});
