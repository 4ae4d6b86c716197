import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { METHODS, NOTIFICATIONS, OPERATIONS, UI_METHODS, isKnownMethod } from "../modules/catalogue.js";
import { initialState, reducer } from "../modules/state.js";
import { REPO_DIR } from "../test-support/fakes.mjs";
import { NOTIFICATION_SCHEMA_NAMES } from "../test-support/notification-schemas.mjs";

test("METHODS is exactly the host's schema catalogue", () => {
  const dir = path.join(REPO_DIR, "host", "sma_host", "schemas");
  const fromSchemas = readdirSync(dir)
    .filter((f) => f.endsWith(".params.json"))
    .map((f) => f.slice(0, -".params.json".length))
    .sort();
  assert.deepEqual([...METHODS].sort(), fromSchemas);
});

test("NOTIFICATIONS is exactly docs/protocol.md §5.2", () => {
  const doc = readFileSync(path.join(REPO_DIR, "docs", "protocol.md"), "utf8");
  const section = doc.split("### 5.2")[1].split("\n## ")[0];
  const documented = [...section.matchAll(/^\| `([a-z._]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual([...NOTIFICATIONS].sort(), documented);
});

test("NOTIFICATIONS is exactly the host's notification schemas: none can be added on one side only", () => {
  assert.deepEqual([...NOTIFICATIONS].sort(), [...NOTIFICATION_SCHEMA_NAMES]);
});

test("the UI calls only catalogue methods", () => {
  for (const method of UI_METHODS) assert.ok(METHODS.includes(method), method);
  assert.ok(isKnownMethod("pair.requested"));
  assert.ok(!isKnownMethod("pair.frobnicate"));
  assert.equal(OPERATIONS.configure, "account.configure");
});

test("the UI state reacts to every notification", () => {
  const base = reducer(initialState(), { type: "accounts", accounts: [{ id: "a", name: "A", type: "imap", emails: ["a@x.org"] }], saved: {} });
  const before = structuredClone(base);
  for (const method of NOTIFICATIONS) {
    const next = reducer(base, { type: "notification", method, params: { account: "a", pairing_id: "0123456789abcdef", muaa_id: "00000000000000aa", addrs: [], muaas: 1, self: false } });
    // By content: a new object that says the same would not show the notification.
    assert.notDeepStrictEqual(next.byId.a, base.byId.a, method);
    assert.deepStrictEqual(base, before, `${method}: the reducer changed the old state in place`);
  }
});
