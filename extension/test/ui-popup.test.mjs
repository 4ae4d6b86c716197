// The toolbar popup in a DOM (jsdom): host status and one summary line per account.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { JSDOM } from "jsdom";

import { HostPort } from "../modules/host-port.js";
import { createController } from "../modules/controller.js";
import { serveUi } from "../modules/ui-bridge.js";
import { A, PEER, PID, TB_ACCOUNTS, sim } from "../test-support/sim-host.mjs";
import { EXT_DIR, FakeRuntime, FakeStorageArea, fakeAccounts, linkedRuntimes, makeGetMessage, settled, silentLogger, waitFor } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();

async function popup(runtime) {
  const dom = new JSDOM(readFileSync(path.join(EXT_DIR, "popup", "popup.html"), "utf8"), { url: "http://localhost/popup/popup.html" });
  const host = new HostPort({ runtime, getMessage, logger: silentLogger });
  const controller = createController({ host, storage: new FakeStorageArea(), accounts: fakeAccounts(TB_ACCOUNTS), logger: silentLogger });
  const { background, page } = linkedRuntimes();
  serveUi(background, controller, { logger: silentLogger });
  await controller.start();
  const opened = [];
  Object.assign(globalThis, {
    document: dom.window.document,
    window: Object.assign(dom.window, { close: () => opened.push("closed") }),
    messenger: { i18n: { getMessage }, runtime: Object.assign(page, { openOptionsPage: async () => opened.push("options") }) },
  });
  await import(`../popup/popup.js?${Math.random()}`);
  const settle = () => settled(host, page, controller);
  await settle();
  return { doc: dom.window.document, controller, opened, settle };
}

test("popup: host running, a summary per account, a pairing request counted, settings opened", async () => {
  const { host: fake } = sim();
  const { doc, controller, opened, settle } = await popup(fake.runtime);
  assert.equal(doc.getElementById("host-status").textContent, "sma-host 0.1.0-test is running.");
  const items = [...doc.querySelectorAll("#accounts li")].map((li) => li.textContent);
  assert.deepEqual(items, [`alice@example.org${getMessage("summaryNotConfigured")}`], "IMAP accounts only: POP3 and Local Folders have nothing to set up");
  controller.dispatch({ type: "notification", method: "pair.requested", params: { account: A, pairing_id: PID, peer: PEER, peer_name: "D", expires_at: 1 } });
  await settle();
  assert.equal(doc.querySelector("#accounts li").textContent, `alice@example.org${getMessage("summaryIncomingOne")}`);
  doc.getElementById("open-options").click();
  await waitFor(() => opened.length === 2);
  assert.deepEqual(opened, ["options", "closed"]);
});

test("popup: host missing shows the install command", async () => {
  const { doc } = await popup(new FakeRuntime({ mode: "missing" }));
  assert.equal(doc.getElementById("host-missing").hidden, false);
  assert.equal(doc.getElementById("install-command").textContent, "make venv && .venv/bin/sma-host install --user");
});
