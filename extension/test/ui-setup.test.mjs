// The settings page's set-up part in a DOM (jsdom): "Use Thunderbird's settings", the
// manual form behind "Other settings", the sentence for POP3 and Local Folders, the folded
// section of an account set up before, against a real controller, a simulated host and a
// fake Experiment.

import { before, test } from "node:test";
import assert from "node:assert/strict";

import { HostPort } from "../modules/host-port.js";
import { STORAGE_PREFIX, createController } from "../modules/controller.js";
import { createThunderbirdAccounts } from "../modules/thunderbird-accounts.js";
import { A, SELF, SETTINGS, TB_ACCOUNTS, sim } from "../test-support/sim-host.mjs";
import { FakeStorageArea, fakeAccounts, fakeExperiment, hostError, makeGetMessage, silentLogger, waitFor } from "../test-support/fakes.mjs";
import { openOptionsPage } from "../test-support/options-page.mjs";

const getMessage = makeGetMessage();
const PASSWORD = "tb-saved-secret";
const IMAP = { imap: true, type: "imap", host: "mail.work.example", port: 143, security: "starttls", username: "alice", auth: "password" };

// Besides the simulated world's accounts (Work: IMAP, Local Folders, Home: POP3), IMAP
// accounts Thunderbird cannot describe, one set up from Thunderbird before the page opened
// and one configured by hand whose password the restarted host lacks.
const MORE = [
  ["account5", "Unavailable", new Error("unavailable: no MailServices")],
  ["account6", "Kerberos", { ...IMAP, auth: "unsupported", reason: "auth_unsupported", detail: "GSSAPI" }],
  ["account7", "Old", { ...IMAP, security: "unsupported", reason: "security_unsupported", detail: "trySTARTTLS" }],
  ["account8", "Folded", IMAP],
  ["account9", "Manual", IMAP],
];
const ACCOUNTS = [...TB_ACCOUNTS, ...MORE.map(([id, name]) => ({ id, name, type: "imap", identities: [{ email: `${id}@example.org` }] }))];
const EXPERIMENT = Object.fromEntries([[A, IMAP], ...MORE.map(([id, , settings]) => [id, settings])].map(([id, settings]) => [id, { settings, password: PASSWORD }]));
const SAVED = {
  [STORAGE_PREFIX + "account8"]: { ...SETTINGS, email: "account8@example.org", configured: true, joined: true, fromThunderbird: true },
  [STORAGE_PREFIX + "account9"]: { ...SETTINGS, email: "account9@example.org", configured: true, joined: true },
};

let doc;
let fake;
let controller;
let sectionOf;
let settle;

before(async () => {
  ({ host: fake } = sim());
  const status = fake.handlers["sma.status"];
  fake.handlers["sma.status"] = (p) => {
    if (p.account === "account9") throw hostError(-32001, "unknown_account", { account: p.account, credentials_missing: true });
    if (p.account !== "account8") return status(p);
    return { exists: true, self: SELF, removed: false, total: 1, muaas: [{ muaa_id: SELF, name: "Laptop", last_seen: 1, self: true, paired: false }] };
  };
  const host = new HostPort({ runtime: fake.runtime, getMessage, logger: silentLogger });
  controller = createController({
    host,
    storage: new FakeStorageArea(SAVED),
    accounts: fakeAccounts(ACCOUNTS),
    thunderbird: createThunderbirdAccounts(fakeExperiment(EXPERIMENT)),
    deviceName: "Thunderbird on Linux",
    logger: silentLogger,
  });
  // Ready once the account set up before the page opened is configured again and refreshed.
  const folded = (page) => page.sectionOf("Folded")?.querySelector("[data-role=status-line]").textContent.startsWith("connected · joined");
  ({ doc, sectionOf, settle } = await openOptionsPage(controller, getMessage, { ready: folded, host }));
});

const visible = (el) => !el.closest("[hidden]");
const $ = (root, sel) => root.querySelector(sel);

test("an IMAP account Thunderbird describes: one button, the form behind a closed “Other settings”", async () => {
  const work = sectionOf("Work");
  const button = $(work, "[data-action=useThunderbird]");
  assert.equal(button.textContent, "Use Thunderbird's settings");
  assert.ok(visible(button));
  assert.equal($(work, "[data-role=thunderbird-intro]").textContent, getMessage("thunderbirdIntro", ["mail.work.example", "143", "alice"]));
  assert.equal($(work, "[data-role=other-settings]").open, false);
  assert.equal($(work, "[data-role=other-settings] > summary").textContent, "Other settings");
  assert.equal(visible($(work, "[data-role=thunderbird-why]")), false);
  assert.equal(visible($(work, "[data-role=pair-card]")), false, "pairing waits for the server");

  button.click();
  await waitFor(() => $(work, "[data-op-status=useThunderbird]").textContent && $(work, "[data-role=status-line]").textContent.includes("joined"));
  assert.ok(fake.methods().includes("sma.join"));
  assert.equal($(work, "[data-op-status=useThunderbird]").textContent, getMessage("noticeUsedThunderbird", ["mail.work.example"]));
  assert.equal($(work, "[data-role=status-line]").textContent, "connected · joined · 0 other devices, 0 paired");
  assert.equal($(work, "[data-role=account-details]").open, true, "stays open after the click: pairing is next");
  assert.ok(visible($(work, "[data-role=pair-card]")));
  assert.ok(!doc.documentElement.outerHTML.includes(PASSWORD), "the password never reaches the page");
});

test("once set up with Thunderbird's settings, the section says so instead of offering the click again", () => {
  const work = sectionOf("Work");
  assert.equal(visible($(work, "[data-action=useThunderbird]")), false);
  assert.equal($(work, "[data-role=thunderbird-intro]").textContent, getMessage("thunderbirdInUse", ["mail.work.example", "143", "alice"]));
  assert.equal($(work, "[data-role=thunderbird-intro]").textContent, "This device uses Thunderbird's settings for this account: mail.work.example, port 143, as alice.");
});

test("the status line counts one other device in the singular", async () => {
  const { statusLine } = await import("../options/setup.js"); // after the page set up messenger
  const joined = (others) => ({
    type: "imap",
    configured: true,
    sma: { self: SELF, removed: false, muaas: [{ muaa_id: SELF, self: true }, ...others] },
  });
  const peer = (id, paired) => ({ muaa_id: id, self: false, paired });
  assert.equal(statusLine(joined([peer("00000000000000bb", true)])), "connected · joined · 1 other device, 1 paired");
  assert.equal(
    statusLine(joined([peer("00000000000000bb", true), peer("00000000000000cc", false)])),
    "connected · joined · 2 other devices, 1 paired",
  );
});

test("POP3 and Local Folders: one sentence, no form", async () => {
  for (const name of ["Home", "Local Folders"]) {
    const section = sectionOf(name);
    assert.ok(visible($(section, "[data-role=not-imap]")), name);
    assert.equal($(section, "[data-role=not-imap]").textContent, getMessage("notImapAccount"));
    assert.equal($(section, "[data-role=imap-account]"), null, `${name}: none of the IMAP cards`);
  }
  assert.equal($(sectionOf("Local Folders"), "[data-role=title]").textContent, "Local Folders", "no empty address");
});

test("Thunderbird cannot describe the server: the form open, and why", async () => {
  for (const [name, key, subs] of [
    ["Unavailable", "thunderbird_unavailable", []],
    ["Kerberos", "thunderbird_auth_unsupported", ["GSSAPI"]],
    ["Old", "thunderbird_security_unsupported", ["trySTARTTLS"]],
  ]) {
    const section = sectionOf(name);
    assert.equal(visible($(section, "[data-role=thunderbird-setup]")), false, key);
    assert.equal($(section, "[data-role=thunderbird-why]").textContent, getMessage(key, subs));
    assert.equal($(section, "[data-role=other-settings]").open, true, key);
  }
});

test("an account set up before the page opened: configured again from Thunderbird, folded to its status line; re-renders move nothing", async () => {
  const folded = sectionOf("Folded");
  assert.equal($(folded, "[data-role=account-details]").open, false);
  assert.equal($(folded, "[data-role=status-line]").textContent, "connected · joined · 0 other devices, 0 paired");
  assert.ok(fake.calls.some((c) => c.method === "account.configure" && c.params.account === "account8"));
  const moves = [];
  new doc.defaultView.MutationObserver((records) => moves.push(...records)).observe(doc.getElementById("accounts"), { childList: true });
  controller.dispatch({ type: "notification", method: "sma.changed", params: { account: "account8", muaas: 1 } });
  await settle(); // the re-read devices (sma.status) and the page's re-render are done
  assert.deepEqual(moves, [], "sections already in place are not moved (that would take the focus away)");
});

test("a manually configured account that lost its password: the section and “Other settings” open, the warning shown", () => {
  const manual = sectionOf("Manual");
  assert.ok(visible($(manual, "[data-role=needs-password]")));
  assert.equal($(manual, "[data-role=account-details]").open, true);
  assert.equal($(manual, "[data-role=other-settings]").open, true);
  assert.ok(!fake.calls.some((c) => c.method === "account.configure" && c.params.account === "account9"));
});
