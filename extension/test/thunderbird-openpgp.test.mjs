// modules/thunderbird-openpgp.js: the Experiment's OpenPGP answers as values; every failure
// (Experiment missing, a function missing, a coded ExtensionError, any other throw) becomes
// {available: false, reason, message}, never an exception, so that the page falls back to
// the manual paste and file paths.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  COLLECTED_SOURCE,
  OPENPGP_REASONS,
  collectedKeysFromPeers,
  createThunderbirdOpenPGP,
} from "../modules/thunderbird-openpgp.js";

const FPR = "AB059D973C11AFC24595EDF634769DC2CD83783B";
const KEY = { fingerprint: FPR, userId: "Alice <alice@example.org>", created: "2026-01-01T00:00:00.000Z" };
const NAMES = ["getIdentityKey", "exportIdentityKey", "installAccountKey", "addCollectedKeys"];

/** A messenger namespace whose Experiment functions do what `impl` says (and record calls). */
function messengerWith(impl) {
  const calls = [];
  const smaThunderbird = {};
  for (const name of NAMES) {
    smaThunderbird[name] = async (...args) => {
      calls.push([name, ...args]);
      if (!impl[name]) throw new Error("An unexpected error occurred");
      return impl[name](...args);
    };
  }
  return { api: { smaThunderbird }, calls };
}

/** Every wrapper call once, with plausible arguments. */
function everyCall(tb) {
  return [
    () => tb.identityKey("account1"),
    () => tb.exportIdentityKey("account1"),
    () => tb.installAccountKey("account1", "-----BEGIN PGP PRIVATE KEY BLOCK-----", "pass"),
    () => tb.addCollectedKeys([]),
  ];
}

test("with the Experiment: each answer comes through as a value, arguments passed on", async () => {
  const { api, calls } = messengerWith({
    getIdentityKey: () => KEY,
    exportIdentityKey: () => ({ armored: "ARMORED", passphrase: "PASS" }),
    installAccountKey: () => ({ fingerprint: FPR, alreadyPresent: false }),
    addCollectedKeys: () => 2,
  });
  const tb = createThunderbirdOpenPGP(api);
  assert.equal(tb.present(), true);
  assert.deepEqual(await tb.identityKey("account1"), { available: true, key: KEY });
  assert.deepEqual(await tb.exportIdentityKey("account1"), { available: true, armored: "ARMORED", passphrase: "PASS" });
  assert.deepEqual(await tb.installAccountKey("account1", "ARMORED", "PASS"), {
    available: true,
    fingerprint: FPR,
    alreadyPresent: false,
  });
  const keys = [{ email: "carol@example.net", keydata: "xsBN", source: "s" }];
  assert.deepEqual(await tb.addCollectedKeys(keys), { available: true, stored: 2 });
  assert.deepEqual(calls, [
    ["getIdentityKey", "account1"],
    ["exportIdentityKey", "account1"],
    ["installAccountKey", "account1", "ARMORED", "PASS"],
    ["addCollectedKeys", keys],
  ]);
});

test("no key configured, a key already there, nothing stored: answers, not failures", async () => {
  const { api } = messengerWith({
    getIdentityKey: () => null,
    installAccountKey: () => ({ fingerprint: FPR, alreadyPresent: true }),
    addCollectedKeys: () => 0,
  });
  const tb = createThunderbirdOpenPGP(api);
  assert.deepEqual(await tb.identityKey("account2"), { available: true, key: null });
  assert.deepEqual(await tb.installAccountKey("account1", "A", "P"), {
    available: true,
    fingerprint: FPR,
    alreadyPresent: true,
  });
  assert.deepEqual(await tb.addCollectedKeys([]), { available: true, stored: 0 });
});

test("without the Experiment, or an older one without the OpenPGP functions: experiment_missing", async () => {
  const older = { smaThunderbird: { getImapSettings: async () => ({}) } };
  for (const api of [{}, { smaThunderbird: {} }, older, null]) {
    const tb = createThunderbirdOpenPGP(api ?? {});
    assert.equal(tb.present(), false);
    for (const call of everyCall(tb)) {
      const answer = await call();
      assert.equal(answer.available, false);
      assert.equal(answer.reason, "experiment_missing");
      assert.match(answer.message, /^smaThunderbird\.\w+ is missing$/);
    }
  }
});

test("the default namespace is the add-on's own messenger (or browser)", async () => {
  const saved = globalThis.messenger;
  try {
    globalThis.messenger = messengerWith({ getIdentityKey: () => KEY }).api;
    assert.deepEqual(await createThunderbirdOpenPGP().identityKey("account1"), { available: true, key: KEY });
    delete globalThis.messenger;
    assert.equal((await createThunderbirdOpenPGP().identityKey("account1")).reason, "experiment_missing");
  } finally {
    if (saved === undefined) delete globalThis.messenger;
    else globalThis.messenger = saved;
  }
});

test("each coded ExtensionError of the OpenPGP functions becomes its reason and sentence", async () => {
  const cases = [
    ["background_only: only the add-on's background may export the account's secret key", "background_only"],
    ["no_account: Thunderbird has no account account9", "no_account"],
    ["no_identity: account account2 has no identity to use the key", "no_identity"],
    ["no_key: account account1 has no OpenPGP secret key in Thunderbird", "no_key"],
    ["export_failed: Thunderbird could not unlock the key to export it", "export_failed"],
    ["invalid_key: it holds no secret key", "invalid_key"],
    ["wrong_passphrase: the passphrase does not unlock the key", "wrong_passphrase"],
    ["import_failed: Thunderbird did not import the key", "import_failed"],
    ["unavailable: Thunderbird's OpenPGP (librnp) is not loaded", "unavailable"],
  ];
  assert.deepEqual(
    [...cases.map(([, reason]) => reason), "experiment_missing", "failed"].sort(),
    [...OPENPGP_REASONS].sort(),
  );
  for (const [message, reason] of cases) {
    const fail = () => {
      const e = new Error(message);
      e.name = "ExtensionError";
      throw e;
    };
    const { api } = messengerWith(Object.fromEntries(NAMES.map((n) => [n, fail])));
    for (const call of everyCall(createThunderbirdOpenPGP(api))) {
      assert.deepEqual(await call(), { available: false, reason, message: message.split(": ").slice(1).join(": ") });
    }
  }
});

test("any other throw (a code it does not know, Thunderbird's generic error, a non-Error, sync) is 'failed'", async () => {
  const throwers = [
    () => {
      throw new Error("not_imap: an accounts code, not an OpenPGP one");
    },
    () => {
      throw new Error("An unexpected error occurred");
    },
    () => {
      throw "plain string";
    },
    () => {
      throw undefined;
    },
  ];
  for (const thrower of throwers) {
    const api = { smaThunderbird: Object.fromEntries(NAMES.map((n) => [n, thrower])) };
    for (const call of everyCall(createThunderbirdOpenPGP(api))) {
      const answer = await call();
      assert.equal(answer.available, false);
      assert.equal(answer.reason, "failed");
      assert.equal(typeof answer.message, "string");
    }
  }
});

test("collectedKeysFromPeers: keys.list entries → addCollectedKeys entries, broken ones left out", () => {
  const peers = [
    { addr: "carol@example.net", keydata: "xsBN", prefer_encrypt: "mutual", autocrypt_timestamp: 1, last_seen: 2 },
    { addr: "dave@example.net", prefer_encrypt: "nopreference" },
    null,
    { keydata: "xsBN" },
  ];
  assert.deepEqual(collectedKeysFromPeers(peers), [
    { email: "carol@example.net", keydata: "xsBN", source: COLLECTED_SOURCE },
  ]);
  assert.deepEqual(collectedKeysFromPeers(undefined), []);
});
