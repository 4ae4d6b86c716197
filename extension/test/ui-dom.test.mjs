// The settings page in a DOM (jsdom): options.js renders the state of a real controller
// (simulated host) and its buttons and forms send the right intents.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { JSDOM } from "jsdom";

import { HostPort } from "../modules/host-port.js";
import { createController } from "../modules/controller.js";
import { serveUi } from "../modules/ui-bridge.js";
import { A, PEER, PID, SECRET_KEY, TB_ACCOUNTS, sim } from "../test-support/sim-host.mjs";
import { EXT_DIR, FakeStorageArea, fakeAccounts, linkedRuntimes, makeGetMessage, settled, silentLogger } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();
let dom;
let doc;
let fake;
let world;
let host;
let section;

const $ = (sel, root = section) => root.querySelector(sel);
const field = (name, root = section) => root.querySelector(`[data-field="${name}"]`);
const submit = (form) => form.dispatchEvent(new dom.window.Event("submit", { cancelable: true, bubbles: true }));
const type = (input, value) => {
  input.value = value;
  input.dispatchEvent(new dom.window.Event("input", { bubbles: true }));
  input.dispatchEvent(new dom.window.Event("change", { bubbles: true }));
};
let controller;
let page;
// Nothing in flight: no host call pending and the page rendered the controller's state.
const settle = (options) => settled(host, page, controller, options);

before(async () => {
  dom = new JSDOM(readFileSync(path.join(EXT_DIR, "options", "options.html"), "utf8"), {
    url: "http://localhost/options/options.html",
  });
  doc = dom.window.document;
  ({ host: fake, world } = sim());
  host = new HostPort({ runtime: fake.runtime, getMessage, logger: silentLogger });
  controller = createController({
    host,
    storage: new FakeStorageArea(),
    accounts: fakeAccounts(TB_ACCOUNTS),
    deviceName: "Thunderbird on Linux",
    logger: silentLogger,
  });
  let background;
  ({ background, page } = linkedRuntimes());
  serveUi(background, controller, { logger: silentLogger });
  await controller.start();

  const realSetInterval = globalThis.setInterval;
  Object.assign(globalThis, {
    window: dom.window,
    document: doc,
    navigator: { clipboard: { writeText: async () => {} } },
    messenger: { i18n: { getMessage }, runtime: page },
    setInterval: (fn, ms) => {
      const t = realSetInterval(fn, ms);
      t.unref();
      return t;
    },
  });
  await import("../options/options.js");
  await settle();
  section = doc.querySelector("#accounts [data-role=account]");
});

test("the page is localized, with every label tied to its control", () => {
  assert.equal(doc.title, getMessage("optionsTitle"));
  for (const el of doc.querySelectorAll("main [data-i18n]")) assert.ok(el.textContent.trim(), el.outerHTML);
  const sections = doc.querySelectorAll("#accounts [data-role=account]");
  assert.equal(sections.length, 3, "the IMAP, the Local Folders and the POP3 account");
  assert.equal($("[data-role=title]").textContent, "Work (alice@example.org)");
  assert.equal(section.getAttribute("aria-labelledby"), $("[data-role=title]").id);
  for (const label of section.querySelectorAll("label")) {
    const control = doc.getElementById(label.htmlFor);
    assert.ok(control, `label ${label.textContent} points nowhere`);
  }
  const ids = [...doc.querySelectorAll("[id]")].map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "ids are unique across accounts");
  assert.equal(doc.getElementById("host-status").textContent, "sma-host 0.1.0-test is running.");
  assert.equal(doc.getElementById("host-missing").hidden, true);
});

test("without the Experiment the form is open and the page says why", () => {
  assert.equal($("[data-role=thunderbird-setup]").hidden, true);
  assert.equal($("[data-role=thunderbird-why]").textContent, getMessage("thunderbird_experiment_missing"));
  assert.equal($("[data-role=other-settings]").open, true);
});

test("the IMAP form is prefilled from the identity", () => {
  assert.equal(field("email").value, "alice@example.org");
  assert.equal(field("host").value, "imap.example.org");
  assert.equal(field("port").value, "993");
  assert.equal(field("security").value, "tls");
  assert.equal(field("username").value, "alice@example.org");
  assert.equal(field("deviceName").value, "Thunderbird on Linux");
  assert.equal(field("remember").checked, false);
  assert.equal($("[data-role=sma-hint]").textContent, getMessage("smaNeedsConfigure"));
});

test("changing the address re-guesses the server; changing security the port", () => {
  type(field("email"), "carol@mail.example.net");
  assert.equal(field("host").value, "imap.mail.example.net");
  field("security").value = "starttls";
  field("security").dispatchEvent(new dom.window.Event("change", { bubbles: true }));
  assert.equal(field("port").value, "143");
  field("security").value = "tls";
  field("security").dispatchEvent(new dom.window.Event("change", { bubbles: true }));
  assert.equal(field("port").value, "993");
  type(field("email"), "alice@example.org");
});

test("a missing password is a field error, focused, and nothing is sent", async () => {
  const before = fake.calls.length;
  submit($("[data-role=imap-form]"));
  await settle();
  assert.equal(fake.calls.length, before);
  assert.equal($('[data-error-for="password"]').textContent, getMessage("fieldErrorPassword"));
  assert.equal(field("password").getAttribute("aria-invalid"), "true");
  assert.equal(doc.activeElement, field("password"));
  assert.ok(field("password").getAttribute("aria-describedby").includes($('[data-error-for="password"]').id));
});

test("test connection and save: configure with remember, the password field is cleared", async () => {
  type(field("password"), "hunter2");
  field("remember").checked = true;
  submit($("[data-role=imap-form]"));
  await settle();
  const call = fake.calls.find((c) => c.method === "account.configure");
  assert.equal(call.params.imap.password, "hunter2");
  assert.equal(call.params.remember, true);
  assert.equal(field("password").value, "");
  assert.equal($('[data-error-for="password"]').textContent, "");
  assert.equal($('[data-op-status="configure"]').textContent, getMessage("noticeConfiguredRemembered", ["imap.example.org"]));
  assert.equal($("[data-role=sma-hint]").textContent, getMessage("smaNotJoined"));
  assert.equal($("[data-action=join]").hidden, false);
  assert.equal($("[data-action=leave]").hidden, true);
});

test("join: this device is shown, Pair and Leave appear", async () => {
  world.others = [{ muaa_id: PEER, name: "Desktop <b>x</b>", last_seen: Math.floor(Date.now() / 1000) - 600, self: false, paired: false }];
  $("[data-action=join]").click();
  await settle();
  assert.equal($("[data-role=sma-hint]").textContent, getMessage("smaJoined"));
  assert.match($("[data-role=self]").textContent, /^Laptop \(00000000000000aa\)/);
  assert.equal($("[data-action=join]").hidden, true);
  assert.equal($("[data-action=pairRequest]").hidden, false);
  const rows = section.querySelectorAll("[data-role=devices] tbody tr");
  assert.equal(rows.length, 1);
  assert.equal(rows[0].querySelector("th span").textContent, "Desktop <b>x</b>");
  assert.equal(rows[0].querySelector("b"), null, "names are text, never markup");
  assert.equal(rows[0].children[1].textContent, "10 minutes ago");
  assert.equal(rows[0].children[2].textContent, getMessage("pairedNo"));
});

test("a pending operation is announced and a second click is ignored", async () => {
  let release;
  fake.handlers["sma.sync"] = () => new Promise((r) => (release = r));
  $("[data-action=sync]").click();
  await settle({ pending: 1 }); // sma.sync, held until release()
  assert.equal($('[data-op-status="sync"]').textContent, getMessage("pending_sync"));
  assert.equal($("[data-action=sync]").getAttribute("aria-disabled"), "true");
  assert.equal(section.getAttribute("aria-busy"), "true");
  $("[data-action=sync]").click();
  await settle({ pending: 1 });
  assert.equal(fake.calls.filter((c) => c.method === "sma.sync").length, 1);
  release({ processed: 1, dropped: 0, sent: 0 });
  await settle();
  assert.equal($('[data-op-status="sync"]').textContent, getMessage("noticeSynced", ["1", "0"]));
  assert.equal($("[data-action=sync]").getAttribute("aria-disabled"), "false");
});

test("errors are shown in words in the operation's status line", async () => {
  fake.handlers["sma.sync"] = () => {
    throw { code: -32010, reason: "connection_failed", message: "x", data: {} };
  };
  $("[data-action=sync]").click();
  await settle();
  const line = $('[data-op-status="sync"]');
  assert.equal(line.textContent, getMessage("error_connection_failed"));
  assert.equal(line.dataset.kind, "error");
});

test("pair this device: the code is shown big and focused, with a way to cancel", async () => {
  assert.equal($("[data-role=pair-target]").hidden, true, "one other device: no choice to make");
  $("[data-action=pairRequest]").click();
  await settle();
  assert.deepEqual(fake.calls.filter((c) => c.method === "pair.request").at(-1).params, { account: A }, "no `to`: the host's default");
  const box = $("[data-role=outgoing]");
  assert.equal(box.hidden, false);
  assert.equal($("[data-role=code]").textContent, "12345-67890");
  assert.equal(doc.activeElement, $("[data-role=code]"));
  assert.equal($("[data-role=outgoing-status]").textContent, getMessage("pairWaiting"));
  assert.equal($("[data-action=pairCancelOutgoing]").hidden, false);
  $("[data-action=pairCancelOutgoing]").click();
  await settle();
  assert.equal(fake.calls.at(-1).method, "pair.cancel");
  assert.equal($("[data-role=outgoing-status]").textContent, getMessage("pairReason_cancelled"));
  assert.equal($("[data-action=pairDone]").hidden, false);
  $("[data-action=pairDone]").click();
  assert.equal(box.hidden, true);
});

test("several unpaired devices: the pairing card offers them by name and last seen; a pick is sent as `to`", async () => {
  const X = "00000000000000cc";
  const now = Math.floor(Date.now() / 1000);
  const before = world.others;
  world.others = [
    ...before,
    { muaa_id: X, name: "Phone <i>", last_seen: now - 3 * 3600, self: false, paired: false },
    { muaa_id: "00000000000000ee", name: "Paired one", last_seen: now, self: false, paired: true },
  ];
  $("[data-action=refresh]").click();
  await settle();
  const box = $("[data-role=pair-target]");
  const select = field("pairTarget");
  assert.equal(box.hidden, false);
  assert.equal(doc.getElementById(box.querySelector("label").htmlFor), select);
  assert.equal(doc.getElementById(select.getAttribute("aria-describedby")).textContent, getMessage("pairTargetHint"));
  assert.deepEqual([...select.options].map((o) => [o.value, o.textContent]), [
    ["", getMessage("pairTargetAny")],
    [PEER, getMessage("pairTargetOption", ["Desktop <b>x</b>", PEER, "10 minutes ago"])],
    [X, getMessage("pairTargetOption", ["Phone <i>", X, "3 hours ago"])],
  ]);
  assert.equal(select.value, "", "the default: the devices seen most recently");
  assert.equal(select.querySelector("i"), null, "names are text");

  select.value = X;
  $("[data-action=refresh]").click(); // a re-render keeps the choice
  await settle();
  assert.equal(select.value, X);
  $("[data-action=pairRequest]").click();
  await settle();
  assert.deepEqual(fake.calls.filter((c) => c.method === "pair.request").at(-1).params, { account: A, to: X });
  assert.equal($("[data-role=code]").textContent, "12345-67890");
  $("[data-action=pairCancelOutgoing]").click();
  await settle();
  $("[data-action=pairDone]").click();

  select.value = "";
  $("[data-action=pairRequest]").click();
  await settle();
  assert.deepEqual(fake.calls.filter((c) => c.method === "pair.request").at(-1).params, { account: A });
  $("[data-action=pairCancelOutgoing]").click();
  await settle();
  $("[data-action=pairDone]").click();

  // The picked device gone from the list: back to the default; one candidate left: no choice.
  select.value = X;
  world.others = before;
  $("[data-action=refresh]").click();
  await settle();
  assert.equal(box.hidden, true);
  assert.equal(select.value, "");
});

test("an incoming request: listed with a code field; the code goes to pair.accept", async () => {
  fake.notify("pair.requested", { account: A, pairing_id: PID, peer: PEER, peer_name: "<img src=x>", expires_at: Math.floor(Date.now() / 1000) + 300 });
  await settle();
  const li = section.querySelector("[data-role=incoming] li");
  assert.ok(li);
  assert.equal(li.querySelector("[data-role=peer-name]").textContent, "<img src=x>");
  assert.equal(li.querySelector("img"), null);
  assert.match(li.querySelector("[data-role=expires]").textContent, /4:5\d|5:00/);
  assert.equal($("[data-role=event]").textContent, getMessage("eventPairRequested", ["<img src=x>"]));
  const label = li.querySelector("label");
  assert.equal(doc.getElementById(label.htmlFor), field("code", li));
  type(field("code", li), "123");
  submit(li.querySelector("form"));
  await settle();
  assert.equal(li.querySelector('[data-error-for="code"]').textContent, getMessage("fieldErrorCode"));
  type(field("code", li), "12345 67890");
  submit(li.querySelector("form"));
  await settle();
  assert.deepEqual(fake.calls.at(-1), { method: "pair.accept", params: { account: A, pairing_id: PID, code: "1234567890" } });
  assert.equal(li.querySelector("[data-role=incoming-status]").textContent, getMessage("pairAcceptedWaiting"));
  assert.equal(li.querySelector("form").hidden, true);
  fake.notify("pair.completed", { account: A, pairing_id: PID, peer: PEER, peer_name: "Desktop" });
  await settle();
  assert.equal(li.querySelector("[data-role=incoming-status]").textContent, getMessage("eventPairCompleted", ["Desktop"]));
});

test("set the account key by paste; refuse a public key", async () => {
  const form = $("[data-role=key-form]");
  type(field("armored"), "-----BEGIN PGP PUBLIC KEY BLOCK-----");
  submit(form);
  await settle();
  assert.equal($('[data-error-for="armored"]').textContent, getMessage("fieldErrorArmored"));
  type(field("armored"), SECRET_KEY);
  submit(form);
  await settle();
  assert.equal(world.key, SECRET_KEY);
  assert.equal(field("armored").value, "");
  assert.equal($('[data-op-status="keySet"]').textContent, getMessage("noticeKeyStored"));
});

test("correspondent keys: the form stores a key by keys.put, the list shows it; another device's update appears by itself", async () => {
  const form = $("[data-role=keys-put-form]");
  const rows = () => [...section.querySelectorAll("[data-role=keyring] tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));
  assert.equal($("[data-role=keyring]").hidden, true);
  assert.equal($("[data-role=no-keyring]").hidden, false);
  assert.equal(doc.getElementById(field("addr").getAttribute("aria-describedby")).dataset.errorFor, "addr");

  // Field errors, focused, nothing sent.
  const calls = fake.calls.length;
  type(field("addr"), "bob");
  type(field("keyText"), "-----BEGIN PGP PRIVATE KEY BLOCK-----\nxx\n-----END PGP PRIVATE KEY BLOCK-----");
  submit(form);
  await settle();
  assert.equal($('[data-error-for="addr"]').textContent, getMessage("fieldErrorPeerAddr"));
  assert.equal($('[data-error-for="keyText"]').textContent, getMessage("fieldErrorPublicKeySecret"));
  assert.equal(field("addr").getAttribute("aria-invalid"), "true");
  assert.equal(doc.activeElement, field("addr"));
  assert.equal(fake.calls.length, calls);

  // An armored public key, mutual.
  const keydata = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
  type(field("addr"), "bob@example.net");
  type(field("keyText"), `-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: Bob\n\n${keydata.slice(0, 20)}\n${keydata.slice(20)}\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----\n`);
  field("mutual").checked = true;
  let release;
  fake.handlers["keys.put"] = (p) => new Promise((r) => { release = () => r(world.put(p)); });
  submit(form);
  await settle({ pending: 1 }); // keys.put, held until release()
  assert.equal($('[data-op-status="keysPut"]').textContent, getMessage("pending_keysPut"));
  assert.equal($('[data-op="keysPut"]').getAttribute("aria-disabled"), "true");
  release();
  await settle();
  const put = fake.calls.find((c) => c.method === "keys.put");
  assert.equal(put.params.peers[0].keydata, keydata);
  assert.equal(put.params.peers[0].prefer_encrypt, "mutual");
  assert.equal($('[data-op-status="keysPut"]').textContent, "Stored; sent to 1 device(s).");
  assert.equal($('[data-op="keysPut"]').getAttribute("aria-disabled"), "false");
  assert.equal(field("addr").value, "");
  assert.equal(field("keyText").value, "");
  assert.equal($('[data-error-for="addr"]').textContent, "");
  assert.deepEqual(rows(), [["bob@example.net", "Yes (mutual)", keydata.slice(0, 16), put.params.peers[0].autocrypt_timestamp ? new Date(put.params.peers[0].autocrypt_timestamp * 1000).toISOString().slice(0, 10) : ""]]);
  assert.equal($("[data-role=keyring]").hidden, false);
  assert.equal($("[data-role=no-keyring]").hidden, true);
  assert.equal($("[data-role=keyring-caption]").textContent, getMessage("keyringCaption", ["1"]));

  // Another device's key-update: keys.changed, and the list re-reads without a click.
  world.keyring = [...world.keyring, { addr: "carol@example.net", keydata: "Q0FST0xDQVJPTENBUk9M", prefer_encrypt: "nopreference", autocrypt_timestamp: 1_700_000_000, last_seen: 1_700_000_000 }];
  fake.notify("keys.changed", { account: A, addrs: ["carol@example.net"] });
  await settle();
  assert.deepEqual(rows()[1], ["carol@example.net", "No preference", "Q0FST0xDQVJPTENB", "2023-11-14"]);
  assert.equal($("[data-role=event]").textContent, getMessage("eventKeysChanged", ["1"]));
});

test("export the account key: a download link to an .asc file", async () => {
  $("[data-action=keyGet]").click();
  await settle();
  const link = $("[data-role=key-download]");
  assert.equal(link.hidden, false);
  assert.equal(link.getAttribute("download"), "alice@example.org-account-key.asc");
  assert.match(link.getAttribute("href"), /^blob:/);
  assert.equal(link.textContent, getMessage("keyDownloadLink", ["alice@example.org-account-key.asc"]));
  assert.equal(doc.activeElement, link);
});

test("remove a device asks first, focusing the confirmation", async () => {
  const row = () => section.querySelector("[data-role=devices] tbody tr");
  row().querySelector("[data-action=remove]").click();
  await settle();
  const yes = row().querySelector("[data-action=remove-yes]");
  assert.ok(yes);
  assert.equal(doc.activeElement, yes);
  row().querySelector("[data-action=remove-no]").click();
  await settle();
  assert.equal(doc.activeElement, row().querySelector("[data-action=remove]"));
  row().querySelector("[data-action=remove]").click();
  await settle();
  row().querySelector("[data-action=remove-yes]").click();
  await settle();
  assert.ok(fake.calls.some((c) => c.method === "device.remove" && c.params.muaa_id === PEER));
  assert.equal(row(), null);
  assert.equal($("[data-role=no-devices]").hidden, false);
});

test("after a removal the card says which paired devices have not confirmed yet; Check again asks device.remove again", async () => {
  const X = "00000000000000cc";
  const PHONE = "00000000000000dd";
  const now = Math.floor(Date.now() / 1000);
  world.others = [
    { muaa_id: PEER, name: "Desktop", last_seen: now - 60, self: false, paired: true },
    { muaa_id: X, name: "Old phone", last_seen: now - 86400, self: false, paired: true },
    { muaa_id: PHONE, name: "Phone", last_seen: now - 600, self: false, paired: true },
  ];
  const lines = () => [...section.querySelectorAll("[data-role=removals] li")];
  assert.deepEqual(lines().map((li) => li.querySelector("span").textContent), [
    getMessage("removalNoPeers", ["Desktop <b>x</b>"]),
  ], "the removal before, with no other paired device");
  let answer = { removed: X, told: [PEER, PHONE], confirmed: [], waiting: [PEER, PHONE] };
  fake.handlers["device.remove"] = (p) => {
    world.others = world.others.filter((m) => m.muaa_id !== p.muaa_id);
    return answer;
  };
  $("[data-action=refresh]").click();
  await settle();
  const row = () => section.querySelector(`[data-role=devices] tbody tr:nth-child(2)`);
  row().querySelector("[data-action=remove]").click();
  await settle();
  row().querySelector("[data-action=remove-yes]").click();
  await settle();
  const line = () => lines().find((li) => li.querySelector("[data-muaa]").dataset.muaa === X);
  assert.equal(line().querySelector("span").textContent, getMessage("removalWaiting", ["Old phone", "Desktop, Phone"]));
  assert.equal($("[data-role=removals]").hidden, false);
  const again = line().querySelector("[data-action=removal-refresh]");
  assert.equal(again.hidden, false);
  assert.equal(again.textContent, getMessage("removalRefreshButton"));
  assert.equal(again.getAttribute("aria-label"), getMessage("removalRefreshLabel", ["Old phone"]));

  answer = { removed: X, told: [], confirmed: [PEER], waiting: [PHONE] };
  again.click();
  await settle();
  assert.deepEqual(fake.calls.filter((c) => c.method === "device.remove").at(-1).params, { account: A, muaa_id: X });
  assert.equal(line().querySelector("span").textContent, getMessage("removalWaiting", ["Old phone", "Phone"]));
  assert.equal(line().querySelector("[data-action=removal-refresh]"), again, "the same button (focus stays put)");

  answer = { removed: X, told: [], confirmed: [PEER, PHONE], waiting: [] };
  again.click();
  await settle();
  assert.equal(line().querySelector("span").textContent, getMessage("removalConfirmed", ["Old phone"]));
  assert.equal(again.hidden, true);
  fake.handlers["device.remove"] = (p) => {
    world.others = world.others.filter((m) => m.muaa_id !== p.muaa_id);
    return { removed: p.muaa_id, told: [], confirmed: [], waiting: [] };
  };
});

test("leave asks first, then leaves", async () => {
  $("[data-action=leave]").click();
  const confirm = $("[data-role=leave-confirm]");
  assert.equal(confirm.hidden, false);
  assert.equal(doc.activeElement, $("[data-action=leave-yes]"));
  $("[data-action=leave-yes]").click();
  await settle();
  assert.equal(fake.calls.at(-2).method, "sma.leave");
  assert.equal($("[data-role=sma-hint]").textContent, getMessage("smaNotJoined"));
  assert.equal($("[data-action=join]").hidden, false);
});

test("this device removed: no stale 'Joined.', no device shown as paired, only Join left", async () => {
  world.others = [{ muaa_id: PEER, name: "Desktop", last_seen: Math.floor(Date.now() / 1000) - 60, self: false, paired: true }];
  $("[data-action=join]").click();
  await settle();
  assert.equal($("[data-op-status=join]").textContent, getMessage("noticeJoined"));
  const pairedCell = () => section.querySelector("[data-role=devices] tbody tr").children[2].textContent;
  assert.equal(pairedCell(), getMessage("pairedYes"));
  world.removed = true;
  fake.notify("device.removed", { account: A, muaa_id: "00000000000000aa", self: true, by: PEER });
  await settle();
  assert.equal($("[data-op-status=join]").textContent, "");
  assert.equal($("[data-role=sma-hint]").textContent, getMessage("smaRemoved"));
  assert.equal($("[data-role=self]").textContent, getMessage("selfRemoved"));
  assert.equal(pairedCell(), getMessage("pairedNo"));
  assert.equal(section.querySelector("[data-role=devices] tbody tr [data-action=remove]"), null);
  assert.equal($("[data-action=join]").hidden, false);
  for (const action of ["sync", "leave", "pairRequest"]) assert.equal($(`[data-action=${action}]`).hidden, true, action);
  world.removed = false;
});

test("host missing: the panel shows the exact install command and a retry", async () => {
  fake.port.hostExit("No such native application org_autocrypt_sma_host");
  await settle();
  assert.equal(doc.getElementById("host-missing").hidden, false);
  assert.equal(doc.getElementById("install-command").textContent, "make venv && .venv/bin/sma-host install --user");
  assert.equal(doc.getElementById("host-status").textContent, getMessage("hostMissing"));
  assert.equal(doc.getElementById("retry-host").hidden, false);
  assert.equal(doc.getElementById("help-link").getAttribute("href"), "../help/install.html");
  doc.getElementById("retry-host").click();
  await settle();
  assert.equal(doc.getElementById("host-status").textContent, "sma-host 0.1.0-test is running.");
  assert.equal(doc.getElementById("host-missing").hidden, true);
});
