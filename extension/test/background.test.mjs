// background.js wired to fake messenger APIs: it connects the host, serves the pages,
// shows browser notifications and opens the settings when one is clicked.

import { test } from "node:test";
import assert from "node:assert/strict";

import { A, PEER, PID, SETTINGS, TB_ACCOUNTS, sim } from "../test-support/sim-host.mjs";
import { FakeEvent, FakeStorageArea, fakeAccounts, makeGetMessage, portPair, waitFor } from "../test-support/fakes.mjs";

test("background: connects, names the device after the OS, notifies pairing requests", async () => {
  const { host: fake } = sim();
  const created = [];
  const opened = [];
  const onClicked = new FakeEvent();
  const onNewMailReceived = new FakeEvent();
  const runtime = Object.assign(fake.runtime, {
    getPlatformInfo: async () => ({ os: "linux", arch: "x86-64" }),
    getURL: (p) => `moz-extension://uuid/${p}`,
    openOptionsPage: async () => opened.push("options"),
  });
  const realSetInterval = globalThis.setInterval;
  globalThis.setInterval = (fn, ms) => {
    const t = realSetInterval(fn, ms);
    t.unref();
    return t;
  };
  globalThis.messenger = {
    runtime,
    i18n: { getMessage: makeGetMessage() },
    storage: { local: new FakeStorageArea() },
    accounts: fakeAccounts(TB_ACCOUNTS),
    notifications: { create: async (id, options) => created.push({ id, ...options }), onClicked },
    messages: { onNewMailReceived },
  };
  await import("../background.js");
  await waitFor(() => fake.methods().includes("hello"));

  // a page connects and gets the state
  const [pageEnd, bgEnd] = portPair("sma-ui");
  const states = [];
  const replies = new Map();
  pageEnd.onMessage.addListener((m) => (m.type === "state" ? states.push(m.state) : replies.set(m.id, m.reply)));
  runtime.onConnect.fire(bgEnd);
  await waitFor(() => states.at(-1)?.host.state === "connected" && states.at(-1).byId[A].settings.deviceName);
  assert.equal(states.at(-1).byId[A].settings.deviceName, "Thunderbird on Linux");
  assert.deepEqual(fake.methods(), ["hello"], "connected, nothing configured: nothing else asked");

  fake.notify("pair.requested", { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop", expires_at: 1 });
  await waitFor(() => created.length > 0 && states.at(-1).byId[A].incoming[PID]);
  assert.deepEqual(created, [
    {
      id: `pair-${PID}`,
      type: "basic",
      iconUrl: "moz-extension://uuid/icons/sma.svg",
      title: "Pairing request",
      message: "“Desktop” asks to pair for alice@example.org. Open the SMA settings and type the code it shows.",
    },
  ]);
  onClicked.fire(`pair-${PID}`);
  assert.deepEqual(opened, ["options"]);
  assert.ok(states.at(-1).byId[A].incoming[PID], "the open page got the request too");

  // New mail: mail.scan only for an account sma-host knows. Not configured yet: none (a
  // late one would show in the list at the end).
  onNewMailReceived.fire({ accountId: A, path: "/INBOX" }, { messages: [] });
  assert.ok(!fake.methods().includes("mail.scan"), "not configured yet: no mail.scan");
  pageEnd.postMessage({ type: "intent", id: 1, intent: { op: "configure", account: A, settings: SETTINGS, password: "pw" } });
  await waitFor(() => replies.get(1)?.ok && fake.methods().includes("account.key.get"), { message: "configured, then refreshed" });
  onNewMailReceived.fire({ accountId: "account4", path: "/Inbox" }, { messages: [] });
  onNewMailReceived.fire({ accountId: A, path: "/INBOX" }, { messages: [] });
  await waitFor(() => fake.methods().includes("mail.scan"));
  assert.deepEqual(fake.calls.filter((c) => c.method === "mail.scan").map((c) => c.params), [{ account: A }]);
});
