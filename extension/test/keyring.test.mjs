// Correspondent keys: the armored-key → keydata conversion, the form's checks, the state
// transitions of keys.list / keys.put / keys.changed, and the controller's wiring
// (keys.changed → keys.list) against the simulated host.

import { test } from "node:test";
import assert from "node:assert/strict";

import { HostPort } from "../modules/host-port.js";
import { createController } from "../modules/controller.js";
import {
  MAX_KEYDATA_LENGTH,
  buildKeyEntry,
  emptyAccount,
  initialState,
  isoDate,
  keydataFromInput,
  keyringRows,
  opStatus,
  reducer,
  validateKeyEntry,
} from "../modules/state.js";
import { A, PEER, TB_ACCOUNTS, SETTINGS, sim } from "../test-support/sim-host.mjs";
import { FakeStorageArea, fakeAccounts, hostError, makeGetMessage, silentLogger, waitFor } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();
const KEYDATA = "CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW+yA=";
const ARMORED = [
  "-----BEGIN PGP PUBLIC KEY BLOCK-----",
  "Version: GnuPG v2",
  "Comment: bob@example.net",
  "",
  KEYDATA.slice(0, 32),
  KEYDATA.slice(32),
  "=njUN",
  "-----END PGP PUBLIC KEY BLOCK-----",
  "",
].join("\n");

// ---- the conversion ----------------------------------------------------------------

test("keydata: an armored public key block loses armor lines, headers and checksum", () => {
  assert.deepEqual(keydataFromInput(ARMORED), { keydata: KEYDATA });
  assert.deepEqual(keydataFromInput(ARMORED.replace(/\n/g, "\r\n")), { keydata: KEYDATA });
  // No headers, text around the block (as pasted from a mail) is ignored.
  const bare = `Here is my key:\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${KEYDATA}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\nBob`;
  assert.deepEqual(keydataFromInput(bare), { keydata: KEYDATA });
  // Without a checksum line.
  assert.deepEqual(keydataFromInput(`-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${KEYDATA}\n-----END PGP PUBLIC KEY BLOCK-----`), { keydata: KEYDATA });
});

test("keydata: bare base64 as in the Autocrypt header, line breaks and spaces ignored", () => {
  assert.deepEqual(keydataFromInput(KEYDATA), { keydata: KEYDATA });
  assert.deepEqual(keydataFromInput(` ${KEYDATA.slice(0, 20)}\n ${KEYDATA.slice(20, 40)}\n\t${KEYDATA.slice(40)} \n`), { keydata: KEYDATA });
});

test("keydata: refuses empty, non-base64, a broken block, a secret key, and oversize", () => {
  assert.equal(keydataFromInput("").error, "fieldErrorPublicKeyEmpty");
  assert.equal(keydataFromInput("   \n").error, "fieldErrorPublicKeyEmpty");
  assert.equal(keydataFromInput("not base64!").error, "fieldErrorPublicKey");
  assert.equal(keydataFromInput("abc").error, "fieldErrorPublicKey"); // not a multiple of 4
  assert.equal(keydataFromInput("ab=c").error, "fieldErrorPublicKey");
  assert.equal(keydataFromInput(ARMORED.replace("-----END PGP PUBLIC KEY BLOCK-----", "")).error, "fieldErrorPublicKey");
  assert.equal(keydataFromInput("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----").error, "fieldErrorPublicKey");
  assert.equal(
    keydataFromInput("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxcLYBF==\n-----END PGP PRIVATE KEY BLOCK-----").error,
    "fieldErrorPublicKeySecret",
  );
  assert.equal(keydataFromInput("A".repeat(MAX_KEYDATA_LENGTH + 4)).error, "fieldErrorPublicKeyTooLong");
  assert.deepEqual(keydataFromInput("A".repeat(MAX_KEYDATA_LENGTH)), { keydata: "A".repeat(MAX_KEYDATA_LENGTH) });
});

test("the form: address and key checked; the entry carries no date (the host dates it by the key's creation)", () => {
  assert.deepEqual(validateKeyEntry({ addr: "", keyText: "" }), { addr: "fieldErrorPeerAddr", keyText: "fieldErrorPublicKeyEmpty" });
  assert.deepEqual(validateKeyEntry({ addr: "bob", keyText: "x" }), { addr: "fieldErrorPeerAddr", keyText: "fieldErrorPublicKey" });
  assert.deepEqual(validateKeyEntry({ addr: " bob@example.net ", keyText: ARMORED }), {});
  assert.deepEqual(buildKeyEntry({ addr: " Bob@Example.net ", keyText: ARMORED, mutual: true }), {
    addr: "Bob@Example.net",
    keydata: KEYDATA,
    prefer_encrypt: "mutual",
  });
  assert.equal(buildKeyEntry({ addr: "b@x", keyText: KEYDATA, mutual: false }).prefer_encrypt, "nopreference");
});

test("keyring rows: address, preference, first 16 characters of the keydata, UTC date", () => {
  assert.equal(isoDate(1_700_000_000), "2023-11-14");
  assert.equal(isoDate(undefined), "");
  const account = {
    keyring: {
      peers: [
        { addr: "bob@example.net", keydata: KEYDATA, prefer_encrypt: "mutual", autocrypt_timestamp: 1_700_000_000, last_seen: 1_700_000_000, fingerprint: "0123456789abcdef0123456789ABCDEF01234567" },
        { addr: "carol@example.net", keydata: "QUJD", prefer_encrypt: "nopreference", autocrypt_timestamp: 0, last_seen: 0 },
      ],
      total: 2,
    },
  };
  assert.deepEqual(keyringRows(account), [
    { addr: "bob@example.net", preferKey: "preferMutual", key: "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567", date: "2023-11-14" },
    { addr: "carol@example.net", preferKey: "preferNoPreference", key: "QUJD", date: "1970-01-01" },
  ]);
  assert.deepEqual(keyringRows({ keyring: null }), []);
  for (const key of ["preferMutual", "preferNoPreference"]) assert.ok(getMessage(key), key);
});

// ---- the reducer -------------------------------------------------------------------

function stateWithAccount() {
  let s = initialState();
  s = reducer(s, { type: "accounts", accounts: [{ id: A, name: "Alice", type: "imap", emails: ["alice@example.org"] }], saved: {} });
  return s;
}

test("state: keys.put pending → notice with the number of devices, or its error; a no-op put says so", () => {
  let s = stateWithAccount();
  assert.equal(s.byId[A].keyring, null);
  s = reducer(s, { type: "start", account: A, op: "keysPut" });
  assert.deepEqual(opStatus(s.byId[A], "keysPut"), { kind: "pending", key: "pending_keysPut", subs: [] });
  s = reducer(s, { type: "success", account: A, op: "keysPut", params: {}, result: { stored: 1, received: 1, queued_to: [PEER, "00000000000000cc"] } });
  assert.deepEqual(opStatus(s.byId[A], "keysPut"), { kind: "notice", key: "noticeKeysPut", subs: ["2"] });
  assert.equal(getMessage("noticeKeysPut", ["2"]), "Stored; sent to 2 device(s).");
  s = reducer(s, { type: "start", account: A, op: "keysPut" });
  s = reducer(s, { type: "success", account: A, op: "keysPut", params: {}, result: { stored: 0, received: 1, queued_to: [] } });
  assert.equal(opStatus(s.byId[A], "keysPut").key, "noticeKeysPutUnchanged");
  s = reducer(s, { type: "start", account: A, op: "keysPut" });
  s = reducer(s, { type: "failure", account: A, op: "keysPut", error: { reason: "invalid_params", text: "Bad entry", data: { path: "$.peers[0]" } } });
  assert.deepEqual(opStatus(s.byId[A], "keysPut"), { kind: "error", text: "Bad entry", reason: "invalid_params" });
});

test("state: keys.list fills the keyring; keys.changed marks it stale and tells the event", () => {
  let s = stateWithAccount();
  s = reducer(s, { type: "start", account: A, op: "keysList" });
  assert.equal(opStatus(s.byId[A], "keysList").key, "pending_keysList");
  const peers = [{ addr: "bob@example.net", keydata: KEYDATA, prefer_encrypt: "mutual", autocrypt_timestamp: 1, last_seen: 1 }];
  s = reducer(s, { type: "success", account: A, op: "keysList", params: { account: A }, result: { peers, total: 1 } });
  assert.deepEqual(s.byId[A].keyring, { peers, total: 1 });
  assert.equal(opStatus(s.byId[A], "keysList").kind, "none");
  s = reducer(s, { type: "notification", method: "keys.changed", params: { account: A, addrs: ["carol@example.net"] } });
  assert.equal(s.byId[A].keyringStale, true);
  assert.deepEqual(s.byId[A].event, { key: "eventKeysChanged", subs: ["1"] });
  assert.deepEqual(s.byId[A].keyring.peers, peers, "the old list stays until re-read");
  s = reducer(s, { type: "success", account: A, op: "keysList", params: { account: A }, result: { peers: [], total: 0 } });
  assert.equal(s.byId[A].keyringStale, false);
  assert.deepEqual(keyringRows(s.byId[A]), []);
  // Another account's notification changes nothing here.
  const same = reducer(s, { type: "notification", method: "keys.changed", params: { account: "other", addrs: [] } });
  assert.equal(same, s);
  assert.equal(emptyAccount({ id: "x" }).keyring, null);
});

// ---- the controller with the simulated host ----------------------------------------

async function setup(handlers = {}) {
  const { host: fake, world } = sim(handlers);
  const host = new HostPort({ runtime: fake.runtime, getMessage, logger: silentLogger });
  const controller = createController({
    host,
    storage: new FakeStorageArea(),
    accounts: fakeAccounts(TB_ACCOUNTS),
    deviceName: "Laptop",
    logger: silentLogger,
    now: () => 1_700_000_123_456,
  });
  await controller.start();
  await waitFor(() => controller.getState().host.state === "connected");
  await controller.handleIntent({ op: "configure", account: A, settings: SETTINGS, password: "hunter2" });
  // configure starts a refresh; it ends with keys.list and account.key.get answered
  await waitFor(() => ["keys.list", "account.key.get"].every((m) => fake.methods().includes(m)) && host.pendingCount === 0);
  return { fake, world, host, controller, acc: () => controller.getState().byId[A] };
}

test("controller: configure and join read the keyring (keys.list)", async () => {
  const ctx = await setup();
  assert.deepEqual(ctx.acc().keyring, { peers: [], total: 0 });
  const before = ctx.fake.methods().length;
  await ctx.controller.handleIntent({ op: "join", account: A });
  assert.ok(ctx.fake.methods().slice(before).includes("keys.list"), "join re-reads the keyring");
});

test("controller: keysPut checks the form without a call, then keys.put {peers:[entry]} and a re-read", async () => {
  const ctx = await setup();
  await ctx.controller.handleIntent({ op: "join", account: A });
  const before = ctx.fake.methods().length;
  const bad = await ctx.controller.handleIntent({ op: "keysPut", account: A, addr: "nobody", keyText: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n-----END PGP PRIVATE KEY BLOCK-----" });
  assert.deepEqual(bad.fieldErrors, { addr: "fieldErrorPeerAddr", keyText: "fieldErrorPublicKeySecret" });
  assert.equal(ctx.fake.methods().length, before, "nothing sent");

  const reply = await ctx.controller.handleIntent({ op: "keysPut", account: A, addr: "bob@example.net", keyText: ARMORED, mutual: true });
  assert.equal(reply.ok, true);
  await waitFor(() => ctx.fake.methods().slice(before).includes("keys.list") && ctx.host.pendingCount === 0);
  assert.deepEqual(ctx.fake.methods().slice(before), ["keys.put", "keys.list"]);
  const put = ctx.fake.calls.find((c) => c.method === "keys.put");
  assert.deepEqual(put.params, {
    account: A,
    peers: [{ addr: "bob@example.net", keydata: KEYDATA, prefer_encrypt: "mutual" }],
  });
  assert.deepEqual(opStatus(ctx.acc(), "keysPut"), { kind: "notice", key: "noticeKeysPut", subs: ["1"] });
  assert.deepEqual(keyringRows(ctx.acc()).map((r) => r.addr), ["bob@example.net"]);
});

test("controller: a refused keys.put shows the error in words", async () => {
  const ctx = await setup({
    "keys.put": () => {
      throw hostError(-32602, "invalid_params", { path: "$.peers[0]" });
    },
  });
  const reply = await ctx.controller.handleIntent({ op: "keysPut", account: A, addr: "bob@example.net", keyText: KEYDATA });
  assert.equal(reply.ok, false);
  const status = opStatus(ctx.acc(), "keysPut");
  assert.equal(status.kind, "error");
  assert.equal(status.reason, "invalid_params");
  assert.ok(status.text.length > 0 && !status.text.includes("error_"), status.text);
});

test("controller: keys.changed for the account re-reads the keyring (all pages); overlapping ones coalesce", async () => {
  const ctx = await setup();
  const entry = (addr) => ({ addr, keydata: KEYDATA, prefer_encrypt: "nopreference", autocrypt_timestamp: 1, last_seen: 1 });
  // Another device's update arrives: the host has two pages now.
  ctx.fake.handlers["keys.list"] = (p) =>
    p.offset ? { peers: [entry("carol@example.net")], total: 2 } : { peers: [entry("bob@example.net")], total: 2, next_offset: "1" };
  const before = ctx.fake.methods().length;
  ctx.fake.notify("keys.changed", { account: A, addrs: ["bob@example.net", "carol@example.net"] });
  ctx.fake.notify("keys.changed", { account: A, addrs: ["carol@example.net"] });
  await waitFor(() => keyringRows(ctx.acc()).length === 2 && !ctx.acc().keyringStale && ctx.host.pendingCount === 0);
  const calls = ctx.fake.methods().slice(before);
  assert.ok(calls.every((m) => m === "keys.list"), calls.join());
  assert.ok(calls.length >= 2 && calls.length <= 4, `coalesced: ${calls.length} calls`);
  assert.deepEqual(keyringRows(ctx.acc()).map((r) => r.addr), ["bob@example.net", "carol@example.net"]);
  assert.equal(ctx.acc().keyringStale, false);
  // Another account's notification reads nothing.
  const n = ctx.fake.methods().length;
  ctx.fake.notify("keys.changed", { account: "account4", addrs: ["x@y"] });
  ctx.fake.notify("keys.changed", { account: "nope", addrs: ["x@y"] });
  await waitFor(() => ctx.fake.calls.slice(n).length > 0 && ctx.host.pendingCount === 0);
  const later = ctx.fake.calls.slice(n);
  assert.ok(later.length > 0, "account4's keyring is read");
  assert.ok(later.every((c) => c.method === "keys.list" && c.params.account === "account4"), "account4's own keyring only");
});
