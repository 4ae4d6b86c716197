import { test } from "node:test";
import assert from "node:assert/strict";

import { UI_PORT_NAME, UI_ACTIVE_INTERVAL_MS, connectUi, serveUi } from "../modules/ui-bridge.js";
import { waitFor, linkedRuntimes, portPair, silentLogger } from "../test-support/fakes.mjs";

function fakeController() {
  let state = { n: 0 };
  const listeners = new Set();
  return {
    getState: () => state,
    subscribe: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    bump() {
      state = { n: state.n + 1 };
      for (const fn of listeners) fn(state);
    },
    listeners,
    async handleIntent(intent) {
      if (intent.op === "boom") throw new Error("bug");
      return { ok: true, result: { echo: intent } };
    },
  };
}

test("the UI gets the state at once and on every change (coalesced), and intents get replies", async () => {
  const { background, page } = linkedRuntimes();
  const controller = fakeController();
  serveUi(background, controller, { logger: silentLogger });
  const states = [];
  const client = connectUi(page, { onState: (s) => states.push(s.n) });
  await waitFor(() => states.length === 1);
  assert.deepEqual(states, [0]);
  controller.bump();
  controller.bump();
  await waitFor(() => states.at(-1) === 2);
  assert.deepEqual(states, [0, 2]);
  const reply = await client.send({ op: "sync", account: "a" });
  assert.deepEqual(reply, { ok: true, result: { echo: { op: "sync", account: "a" } } });
  const broken = await client.send({ op: "boom" });
  assert.equal(broken.ok, false);
  assert.equal(broken.error.reason, "internal_error");
});

test("ports of other names are ignored; a closed page unsubscribes", async () => {
  const { background, page } = linkedRuntimes();
  const controller = fakeController();
  serveUi(background, controller, { logger: silentLogger });
  const [, other] = portPair("something-else");
  background.onConnect.fire(other);
  assert.equal(controller.listeners.size, 0);
  const client = connectUi(page, { onState: () => {} });
  await waitFor(() => controller.listeners.size === 1);
  assert.equal(page.last.uiEnd.name, UI_PORT_NAME);
  client.disconnect();
  await waitFor(() => controller.listeners.size === 0);
});

test("when the background goes away, pending intents resolve with ui_disconnected", async () => {
  const { background, page } = linkedRuntimes();
  const controller = fakeController();
  let asked = 0;
  controller.handleIntent = () => {
    asked += 1;
    return new Promise(() => {});
  };
  serveUi(background, controller, { logger: silentLogger });
  let gone = false;
  const client = connectUi(page, { onState: () => {}, onDisconnect: () => { gone = true; } });
  await waitFor(() => controller.listeners.size === 1);
  const pending = client.send({ op: "sync" });
  await waitFor(() => asked === 1);
  page.last.bgEnd.disconnect();
  const reply = await pending;
  assert.equal(reply.error.reason, "ui_disconnected");
  assert.ok(gone);
  assert.equal((await client.send({ op: "sync" })).error.reason, "ui_disconnected");
});

test("an open page sends ui.active at once and every 30 s, and stops when it closes", async () => {
  const { background, page } = linkedRuntimes();
  const controller = fakeController();
  let beats = 0;
  controller.uiActive = () => { beats += 1; };
  const timers = new Map();
  let nextTimer = 1;
  const clock = {
    setInterval: (fn, ms) => { timers.set(nextTimer, { fn, ms }); return nextTimer++; },
    clearInterval: (id) => timers.delete(id),
  };
  serveUi(background, controller, { logger: silentLogger, clock });
  const client = connectUi(page, { onState: () => {} });
  await waitFor(() => beats === 1);
  const [timer] = [...timers.values()];
  assert.equal(timer.ms, UI_ACTIVE_INTERVAL_MS);
  assert.equal(UI_ACTIVE_INTERVAL_MS, 30_000);
  timer.fn();
  assert.equal(beats, 2);
  client.disconnect();
  await waitFor(() => timers.size === 0);
});
