// Checks one shared contract example (tests/contract/examples/*.json) against the add-on.
//
// The Python side (tests/contract/test_examples.py) writes three shapes:
//   {"method", "params", "result"}                     a call and its result
//   {"method"?, "params"?, "error": {code, message, data: {reason, …}}}
//                                                      an error (frame errors have no method;
//                                                      method_not_found names an unknown one)
//   {"notification", "params"}                         a host → add-on notification, which
//                                                      must hold against its JSON Schema

import assert from "node:assert/strict";

import { HOST_REASONS, RpcError, describeError, reasonMessageKey } from "../modules/host-port.js";
import { METHODS, NOTIFICATIONS, OPERATIONS } from "../modules/catalogue.js";
import { initialState, reducer } from "../modules/state.js";
import { assertValidNotification } from "./notification-schemas.mjs";

const OP_OF_METHOD = Object.fromEntries(Object.entries(OPERATIONS).map(([op, m]) => [m, op]));

/** A file holds one example, an array of them, or {"examples": [...]}. */
export function examplesOf(json) {
  if (Array.isArray(json)) return json;
  if (json && Array.isArray(json.examples)) return json.examples;
  return [json];
}

function stateWith(account) {
  return reducer(initialState(), {
    type: "accounts",
    accounts: [{ id: account, name: account, type: "imap", emails: ["a@example.org"] }],
    saved: {},
  });
}

export function checkExample(example, { messages, getMessage }) {
  assert.ok(example && typeof example === "object" && !Array.isArray(example), "an example is an object");
  const params = example.params && typeof example.params === "object" ? example.params : {};
  const account = params.account || "account1";

  if ("notification" in example) {
    const method = example.notification;
    assert.ok(NOTIFICATIONS.includes(method), `the add-on does not know the notification "${method}"`);
    assert.ok(params.account, `${method}: notification without params.account`);
    assertValidNotification(method, params);
    const s = stateWith(account);
    assert.notEqual(reducer(s, { type: "notification", method, params }), s, `${method}: ignored by the UI state`);
    return { kind: "notification", method };
  }

  if ("error" in example) {
    const { method } = example;
    const { code, data } = example.error || {};
    assert.ok(Number.isInteger(code), `error code must be an integer`);
    assert.ok(data && typeof data.reason === "string", `error without data.reason`);
    const reason = data.reason;
    if (method !== undefined && reason !== "method_not_found") {
      assert.ok(METHODS.includes(method), `the add-on does not know the method "${method}"`);
    }
    assert.ok(HOST_REASONS.includes(reason), `reason "${reason}" unknown to host-port.js`);
    assert.ok(messages[reasonMessageKey(reason)], `no message ${reasonMessageKey(reason)}`);
    const text = describeError(new RpcError({ ...example.error, method: method ?? null }), getMessage);
    assert.ok(text.trim().length > 0, `${reason}: empty message`);
    assert.doesNotMatch(text, /\$\d/, `${reason}: unfilled placeholder in "${text}"`);
    const op = method && OP_OF_METHOD[method];
    if (op) {
      const s = reducer(stateWith(account), {
        type: "failure",
        account,
        op,
        target: params.pairing_id || params.muaa_id,
        error: { reason, text, data },
      });
      assert.ok(Object.values(s.byId[account].errors).some((e) => e.text === text), `${method}: error not in the UI state`);
    }
    return { kind: "error", reason, method: method ?? null };
  }

  const { method } = example;
  assert.equal(typeof method, "string", "example without method, error or notification");
  assert.ok(METHODS.includes(method), `the add-on does not know the method "${method}"`);
  assert.ok("result" in example, `${method}: an example needs "result" or "error"`);
  const op = OP_OF_METHOD[method];
  if (op && op !== "hello") {
    const target = params.pairing_id || params.muaa_id;
    const s = reducer(stateWith(account), { type: "success", account, op, target, params, result: example.result });
    assert.ok(s.byId[account], `${method}: result broke the UI state`);
  }
  return { kind: "result", method, usedByUi: Boolean(op) };
}
