// Cross-language contract: the shared examples the Python tests validate against the
// JSON Schemas (tests/contract/examples/*.json) must make sense to the add-on too.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { checkExample, examplesOf } from "../test-support/contract-check.mjs";
import { HOST_REASONS } from "../modules/host-port.js";
import { NOTIFICATIONS, UI_METHODS } from "../modules/catalogue.js";
import { REPO_DIR, loadMessages, makeGetMessage } from "../test-support/fakes.mjs";

const EXAMPLES_DIR = process.env.SMA_CONTRACT_EXAMPLES || path.join(REPO_DIR, "tests", "contract", "examples");
const messages = loadMessages();
const ctx = { messages, getMessage: makeGetMessage(messages) };

const files = existsSync(EXAMPLES_DIR)
  ? readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith(".json")).sort()
  : [];

if (files.length === 0) {
  const where = path.relative(REPO_DIR, EXAMPLES_DIR).startsWith("..") ? EXAMPLES_DIR : path.relative(REPO_DIR, EXAMPLES_DIR);
  const why = `no shared contract examples in ${where}/ (folder ${existsSync(EXAMPLES_DIR) ? "empty" : "missing"}): cross-language check skipped`;
  console.log(why);
  test("shared contract examples", { skip: why }, () => {});
}

const seen = { reasons: new Set(), notifications: new Set(), methods: new Set() };

for (const file of files) {
  test(`contract example ${file}`, () => {
    const json = JSON.parse(readFileSync(path.join(EXAMPLES_DIR, file), "utf8"));
    const examples = examplesOf(json);
    assert.ok(examples.length > 0, `${file} holds no example`);
    for (const [i, example] of examples.entries()) {
      try {
        const got = checkExample(example, ctx);
        if (got.kind === "error") seen.reasons.add(got.reason);
        if (got.kind === "notification") seen.notifications.add(got.method);
        if (got.kind === "result") seen.methods.add(got.method);
      } catch (e) {
        e.message = `${file}[${i}]: ${e.message}`;
        throw e;
      }
    }
  });
}

if (files.length > 0) {
  test("the shared examples cover every reason, notification and UI method", () => {
    assert.deepEqual([...seen.reasons].sort(), [...HOST_REASONS].sort());
    assert.deepEqual([...seen.notifications].sort(), [...NOTIFICATIONS].sort());
    for (const method of UI_METHODS) assert.ok(seen.methods.has(method), `no result example for ${method}`);
  });
}

// The checker itself, on examples written here, so that it is tested even before the
// shared folder exists.
test("contract checker: accepts good examples of each kind", () => {
  assert.equal(checkExample({ method: "sma.join", params: { account: "a1" }, result: { muaa_id: "00000000000000aa", created_sma: true } }, ctx).kind, "result");
  assert.equal(checkExample({ method: "keys.list", params: { account: "a1" }, result: { peers: [], total: 0 } }, ctx).usedByUi, true);
  assert.equal(checkExample({ method: "sma.expire", params: { account: "a1" }, result: { expired: [] } }, ctx).usedByUi, false);
  assert.deepEqual(
    checkExample({ method: "account.configure", params: { account: "a1" }, error: { code: -32012, message: "login refused", data: { reason: "auth_failed" } } }, ctx),
    { kind: "error", reason: "auth_failed", method: "account.configure" },
  );
  assert.equal(checkExample({ notification: "pair.requested", params: { account: "a1", pairing_id: "0123456789abcdef", peer: "00000000000000bb", peer_name: "D", expires_at: 1 } }, ctx).kind, "notification");
  assert.equal(checkExample({ error: { code: -32700, message: "not JSON", data: { reason: "parse_error" } } }, ctx).reason, "parse_error");
  assert.equal(checkExample({ method: "nope", params: {}, error: { code: -32601, message: "no", data: { reason: "method_not_found", method: "nope" } } }, ctx).reason, "method_not_found");
  assert.deepEqual(examplesOf({ examples: [1, 2] }), [1, 2]);
  assert.deepEqual(examplesOf([1]), [1]);
});

test("contract checker: rejects a notification off its JSON Schema", () => {
  const good = { account: "a1", pairing_id: "0123456789abcdef", peer: "00000000000000bb", peer_name: "D", expires_at: 1 };
  const { expires_at: _, ...withoutExpiry } = good;
  assert.throws(() => checkExample({ notification: "pair.requested", params: withoutExpiry }, ctx), /expires_at/);
  assert.throws(() => checkExample({ notification: "pair.requested", params: { ...good, peer: "Desktop" } }, ctx), /\/peer: must match pattern/);
  assert.throws(() => checkExample({ notification: "pair.requested", params: { ...good, code: "12345-67890" } }, ctx), /additional properties \(code\)/);
});

test("contract checker: rejects unknown methods, unknown reasons and shapeless examples", () => {
  assert.throws(() => checkExample({ method: "sma.frobnicate", params: {}, result: {} }, ctx), /does not know the method/);
  assert.throws(() => checkExample({ method: "sma.join", params: {}, error: { code: -1, message: "x", data: { reason: "brand_new" } } }, ctx), /brand_new/);
  assert.throws(() => checkExample({ method: "sma.join", params: {}, error: { code: "x", message: "x", data: { reason: "auth_failed" } } }, ctx), /integer/);
  assert.throws(() => checkExample({ method: "sma.join", params: {} }, ctx), /"result" or "error"/);
  assert.throws(() => checkExample({ notification: "pair.exploded", params: { account: "a" } }, ctx), /notification/);
  assert.throws(() => checkExample({ method: "sma.frobnicate", params: {}, error: { code: -32013, message: "x", data: { reason: "server_error" } } }, ctx), /does not know the method/);
});
