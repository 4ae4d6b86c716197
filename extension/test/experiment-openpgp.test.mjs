// The pure part of the Experiment's OpenPGP functions (experiments/openpgp.js), loaded with
// node:vm as Thunderbird loads it with Services.scriptloader.loadSubScript. Key objects here
// have the shape of Thunderbird 140's RNP key listings (RNP.getKeyListFromKeyBlockImpl,
// EnigmailKeyRing.getKeyById): fpr, keyId, userId, userIds [{userId, type}], keyCreated
// (Unix seconds), keyTrust, secretAvailable.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";

import { EXT_DIR } from "../test-support/fakes.mjs";

function load() {
  const scope = {};
  const code = readFileSync(path.join(EXT_DIR, "experiments/openpgp.js"), "utf8");
  vm.runInNewContext(code, scope, { filename: "openpgp.js" });
  return scope.smaOpenPGP;
}
const pgp = load();
const plain = (value) => JSON.parse(JSON.stringify(value)); // out of the vm's realm

const FPR = "AB059D973C11AFC24595EDF634769DC2CD83783B";
const key = (fields) => ({
  fpr: FPR,
  keyId: FPR.slice(-16),
  userId: "Alice <alice@example.org>",
  userIds: [{ userId: "Alice <alice@example.org>", type: "uid" }],
  keyCreated: 1767225600, // 2026-01-01T00:00:00Z
  keyTrust: "u",
  secretAvailable: false,
  ...fields,
});
const ARMORED = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxVgEZ...\n-----END PGP PRIVATE KEY BLOCK-----\n";

test("identityKey: a key Thunderbird holds the secret of, in sma-host's words", () => {
  assert.deepEqual(plain(pgp.identityKey(key({ secretAvailable: true, fpr: FPR.toLowerCase() }))), {
    fingerprint: FPR,
    userId: "Alice <alice@example.org>",
    created: "2026-01-01T00:00:00.000Z",
  });
});

test("identityKey: no key, a public key only, a broken object: null", () => {
  assert.equal(pgp.identityKey(null), null);
  assert.equal(pgp.identityKey(undefined), null);
  assert.equal(pgp.identityKey(key({ secretAvailable: false })), null);
  assert.equal(pgp.identityKey(key({ secretAvailable: true, fpr: undefined })), null);
});

test("passphrase: hex of the random bytes, refused for too few", () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8);
  const pass = pgp.passphrase(bytes);
  assert.equal(pass.length, 64);
  assert.match(pass, /^[0-9a-f]{64}$/);
  assert.equal(pass.slice(0, 8), "00081018");
  assert.throws(() => pgp.passphrase(new Uint8Array(8)), /16 random bytes/);
  assert.throws(() => pgp.passphrase(null), /16 random bytes/);
});

test("installInputProblem: an armored secret key and a passphrase, or what is wrong", () => {
  assert.equal(pgp.installInputProblem(ARMORED, "secret"), null);
  const publicKey = ARMORED.replaceAll("PRIVATE", "PUBLIC");
  for (const armored of [publicKey, "hello world", "", null, 42, ARMORED.split("-----END")[0]]) {
    assert.equal(pgp.installInputProblem(armored, "secret"), "not an ASCII-armored OpenPGP secret key");
  }
  assert.equal(pgp.installInputProblem(ARMORED + "x".repeat(1 << 20), "secret"), "the key is larger than 1 MiB");
  for (const pass of ["", null, undefined, 7]) {
    assert.equal(pgp.installInputProblem(ARMORED, pass), "no passphrase was given");
  }
});

test("secretKeyOf: exactly one secret v4 key, else why not", () => {
  assert.deepEqual(plain(pgp.secretKeyOf([key({ secretAvailable: true, fpr: FPR.toLowerCase() })])), {
    fingerprint: FPR,
    keyId: FPR.slice(-16),
  });
  assert.deepEqual(plain(pgp.secretKeyOf(null)), { problem: "Thunderbird found no OpenPGP key in it" });
  assert.deepEqual(plain(pgp.secretKeyOf([])), { problem: "Thunderbird found no OpenPGP key in it" });
  assert.deepEqual(plain(pgp.secretKeyOf([key({ secretAvailable: true }), key({ secretAvailable: true })])), {
    problem: "it holds 2 keys, not one",
  });
  assert.deepEqual(plain(pgp.secretKeyOf([key({})])), { problem: "it holds no secret key" });
  assert.deepEqual(plain(pgp.secretKeyOf([key({ secretAvailable: true, fpr: "AB".repeat(32) })])), {
    problem: "its key version is one Thunderbird cannot import",
  });
});

test("emailOfUserId: the bracketed address or a bare one, lower case; null otherwise", () => {
  assert.equal(pgp.emailOfUserId("Alice <Alice@Example.org>"), "alice@example.org");
  assert.equal(pgp.emailOfUserId("  bob@example.org "), "bob@example.org");
  assert.equal(pgp.emailOfUserId('"Eve <eve@evil.example>" <carol@example.net>'), "carol@example.net");
  assert.equal(pgp.emailOfUserId("Alice (no address)"), null);
  assert.equal(pgp.emailOfUserId("Alice <>"), null);
  assert.equal(pgp.emailOfUserId("carol@example.net <>"), null);
  assert.equal(pgp.emailOfUserId(null), null);
});

test("firstPacketTag: new and legacy packet headers; not a packet: null", () => {
  const bytes = (...octets) => String.fromCharCode(...octets);
  assert.equal(pgp.firstPacketTag(bytes(0xc6, 0x33, 0x04)), 6); // new format, public key
  assert.equal(pgp.firstPacketTag(bytes(0xc5, 0x58, 0x04)), 5); // new format, secret key
  assert.equal(pgp.firstPacketTag(bytes(0x99, 0x01, 0x0d)), 6); // legacy, public key
  assert.equal(pgp.firstPacketTag(bytes(0x95, 0x01, 0xd8)), 5); // legacy, secret key
  assert.equal(pgp.firstPacketTag("hello world!"), null);
  assert.equal(pgp.firstPacketTag(""), null);
  assert.equal(pgp.TAG_PUBLIC_KEY, 6);
});

test("collectedEntry: an address and base64 keydata, whitespace removed; the rest skipped", () => {
  assert.deepEqual(plain(pgp.collectedEntry({ email: " Carol@Example.NET ", keydata: "xsBN\nBGR=", source: "sma" })), {
    email: "carol@example.net",
    keydata: "xsBNBGR=",
    description: "sma",
  });
  assert.equal(pgp.collectedEntry({ email: "carol@example.net", keydata: "xsBN" }).description, "sma-host");
  assert.equal(pgp.collectedEntry({ email: "c@x", keydata: "xsBN", source: "s".repeat(500) }).description.length, 200);
  const skipped = [
    null,
    "carol@example.net",
    { email: "not an address", keydata: "xsBN" },
    { email: "carol@example.net", keydata: "not base64!" },
    { email: "carol@example.net", keydata: "xsB" }, // not a whole number of base64 quanta
    { email: "carol@example.net", keydata: "" },
    { email: "carol@example.net", keydata: 42 },
    { email: "carol@example.net", keydata: "-----BEGIN PGP PUBLIC KEY BLOCK-----" },
    { email: "carol@example.net", keydata: "A".repeat(64 * 1024 + 4) },
    { keydata: "xsBN" },
  ];
  for (const entry of skipped) assert.equal(pgp.collectedEntry(entry), null, JSON.stringify(entry)?.slice(0, 80));
});

test("publicKeyFor: one public, live v4 key with a user ID for the address", () => {
  const carol = key({ userIds: [{ userId: "Carol <Carol@Example.net>", type: "uid" }] });
  assert.equal(pgp.publicKeyFor([carol], "carol@example.net"), carol);
  assert.equal(pgp.publicKeyFor([carol], "CAROL@example.net"), carol);
  const skipped = [
    [[carol], "dave@example.net"], // not for this address
    [[carol, carol], "carol@example.net"], // two keys in one
    [[], "carol@example.net"],
    [null, "carol@example.net"],
    [[{ ...carol, secretAvailable: true }], "carol@example.net"],
    [[{ ...carol, keyTrust: "e" }], "carol@example.net"], // expired
    [[{ ...carol, keyTrust: "r" }], "carol@example.net"], // revoked
    [[{ ...carol, fpr: "AB".repeat(32) }], "carol@example.net"], // v6: Thunderbird 140 has none
    [[{ ...carol, userIds: [{ userId: "Carol <carol@example.net>", type: "uat" }] }], "carol@example.net"],
    [[{ ...carol, userIds: undefined }], "carol@example.net"],
  ];
  for (const [keys, email] of skipped) assert.equal(pgp.publicKeyFor(keys, email), null);
});

test("limits: at most 1000 entries per call", () => {
  assert.equal(pgp.MAX_COLLECTED, 1000);
});
