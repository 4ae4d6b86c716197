// The notification schema check the other tests rely on (test-support/notification-schemas.mjs):
// it knows every schema, catches what breaks one, and the simulated host goes through it.

import { test } from "node:test";
import assert from "node:assert/strict";

import { NOTIFICATION_SCHEMA_NAMES, assertValidNotification, notificationViolations } from "../test-support/notification-schemas.mjs";
import { A, PEER, sim } from "../test-support/sim-host.mjs";

test("a schema for each notification, $refs into common.json resolved", () => {
  assert.ok(NOTIFICATION_SCHEMA_NAMES.length >= 7, NOTIFICATION_SCHEMA_NAMES.join(", "));
  assert.deepEqual(notificationViolations("device.paired", { account: A, muaa_id: PEER, name: "Desktop", via: "00000000000000cc" }), []);
  assert.deepEqual(notificationViolations("keys.changed", { account: A, addrs: [], truncated: true }), []);
});

test("what breaks a schema is caught, each violation named", () => {
  assert.deepEqual(notificationViolations("sma.changed", { account: A, muaas: -1 }), ["sma.changed /muaas: must be >= 0"]);
  assert.deepEqual(notificationViolations("sma.changed", { account: A }), ["sma.changed /: must have required property 'muaas'"]);
  assert.equal(notificationViolations("device.removed", { account: "no spaces", muaa_id: PEER, self: "yes" }).length, 2);
  assert.deepEqual(notificationViolations("pair.exploded", { account: A }), ['no notification is called "pair.exploded"']);
  assert.throws(() => assertValidNotification("keys.changed", { account: A, addrs: "x@example.org" }), /keys\.changed \/addrs: must be array/);
});

test("the simulated host sends no notification off its schema", () => {
  const { host } = sim();
  assert.throws(() => host.notify("device.removed", { account: A, muaa_id: PEER }), /required property 'self'/);
});
