// The settings page's account key card in a DOM (jsdom), against a real controller, a
// simulated host and a fake Experiment's OpenPGP: "Share this key with my devices",
// "Install in Thunderbird" (asks first), "already installed", and the paste and file paths
// behind a disclosure that opens, saying why, when Thunderbird's OpenPGP cannot help.
// Neither the key nor its passphrase ever reaches the page.

import { before, test } from "node:test";
import assert from "node:assert/strict";

import { HostPort } from "../modules/host-port.js";
import { STORAGE_PREFIX, createController } from "../modules/controller.js";
import { createThunderbirdOpenPGP } from "../modules/thunderbird-openpgp.js";
import { A, KEY_FINGERPRINT, SETTINGS, TB_ACCOUNTS, sim } from "../test-support/sim-host.mjs";
import { FakeStorageArea, fakeAccounts, fakeOpenPGP, makeGetMessage, silentLogger } from "../test-support/fakes.mjs";
import { openOptionsPage } from "../test-support/options-page.mjs";

const getMessage = makeGetMessage();
const EXPORTED = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nexported-by-thunderbird\n-----END PGP PRIVATE KEY BLOCK-----\n";
const ONE_TIME = "one-time-passphrase-0123456789";
const GROUPED = "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567";
const OTHER_FPR = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";

const ACCOUNTS = [
  ...TB_ACCOUNTS,
  { id: "account5", name: "Second", type: "imap", identities: [{ email: "alice@example.org" }] },
  { id: "account6", name: "Plain", type: "imap", identities: [{ email: "plain@example.org" }] },
];
const saved = (id) => ({ [STORAGE_PREFIX + id]: { ...SETTINGS, configured: true, joined: true } });
// Work: Thunderbird has a key for the identity. Second: another key, to be replaced by the
// account key. Plain: Thunderbird's OpenPGP does not know the account (no_account).
const TB = {
  [A]: { identityKey: { fingerprint: KEY_FINGERPRINT, userId: "Alice <alice@example.org>", created: "2020-09-13T12:26:40.000Z" }, export: { armored: EXPORTED, passphrase: ONE_TIME } },
  account5: { identityKey: { fingerprint: OTHER_FPR, userId: "Alice (old)", created: "2017-07-14T02:40:00.000Z" }, install: KEY_FINGERPRINT },
};

let doc;
let fake;
let tb;
let sectionOf;
let settle;

before(async () => {
  ({ host: fake } = sim());
  tb = fakeOpenPGP(TB);
  const host = new HostPort({ runtime: fake.runtime, getMessage, logger: silentLogger });
  const controller = createController({
    host,
    storage: new FakeStorageArea({ ...saved(A), ...saved("account5"), ...saved("account6") }),
    accounts: fakeAccounts(ACCOUNTS),
    openpgp: createThunderbirdOpenPGP(tb),
    deviceName: "Thunderbird on Linux",
    logger: silentLogger,
  });
  ({ doc, sectionOf, settle } = await openOptionsPage(controller, getMessage, { host }));
});

const visible = (el) => Boolean(el) && !el.closest("[hidden]");
const $ = (root, sel) => root.querySelector(sel);
const text = (root, sel) => $(root, sel).textContent;

function assertNoSecretInPage() {
  const html = doc.documentElement.outerHTML;
  assert.ok(!html.includes(ONE_TIME), "the passphrase reached the page");
  assert.ok(!html.includes("exported-by-thunderbird"), "the key reached the page");
}

test("Thunderbird's key for the identity: fingerprint, user ID, created and one button; one click shares it", async () => {
  const work = sectionOf("Work");
  assert.ok(visible($(work, "[data-role=key-share]")));
  assert.equal(text(work, "[data-role=share-fingerprint]"), GROUPED);
  assert.equal(text(work, "[data-role=share-user-id]"), "Alice <alice@example.org>");
  assert.equal(text(work, "[data-role=share-created]"), "2020-09-13");
  const button = $(work, "[data-action=keyShare]");
  assert.equal(button.textContent, "Share this key with my devices");
  assert.equal($(work, "[data-role=key-manual]").open, false, "paste and file stay folded");

  button.click();
  await settle();
  assert.deepEqual(fake.calls.filter((c) => c.method === "account.key.set").map((c) => c.params), [{ account: A, armored: EXPORTED, passphrase: ONE_TIME }]);
  assert.equal(text(work, "[data-op-status=keyShare]"), getMessage("noticeKeyShared", ["0"]));
  assert.equal(text(work, "[data-role=install-text]"), getMessage("keyInstalledText", [GROUPED, "alice@example.org"]));
  assert.equal(visible($(work, "[data-action=keyInstall]")), false, "already Thunderbird's key: no button");
  assert.equal(visible($(work, "[data-role=key-share]")), false, "shared: the account key now, no button");
  assertNoSecretInPage();
});

test("a device that holds the account key: its fingerprint and “Install in Thunderbird”, which asks first", async () => {
  const second = sectionOf("Second");
  fake.notify("account_key.changed", { account: "account5", fingerprint: KEY_FINGERPRINT });
  await settle();
  assert.equal(text(second, "[data-role=install-text]"), getMessage("keyInstallText", [GROUPED, "alice@example.org"]));
  const install = $(second, "[data-action=keyInstall]");
  assert.equal(install.textContent, "Install in Thunderbird");
  assert.ok(visible(install));

  install.click();
  await settle();
  assert.ok(visible($(second, "[data-role=install-confirm]")));
  assert.equal(text(second, "[data-role=install-question]"), getMessage("keyInstallQuestion", ["alice@example.org"]));
  $(second, "[data-action=keyInstallNo]").click();
  await settle();
  assert.equal(visible($(second, "[data-role=install-confirm]")), false);
  assert.deepEqual(tb.installed, [], "cancelled: nothing installed");

  install.click();
  await settle();
  $(second, "[data-action=keyInstallYes]").click();
  await settle();
  assert.deepEqual(tb.installed, [{ accountId: "account5", armored: EXPORTED, passphrase: ONE_TIME }]);
  assert.equal(text(second, "[data-op-status=keyInstall]"), getMessage("noticeKeyInstalled", [GROUPED]));
  assert.equal(text(second, "[data-role=install-text]"), getMessage("keyInstalledText", [GROUPED, "alice@example.org"]));
  assert.equal(visible($(second, "[data-action=keyInstall]")), false);
  assert.equal(visible($(second, "[data-role=key-share]")), false, "nothing to share back");
  assertNoSecretInPage();
});

test("Thunderbird's OpenPGP cannot help: no share or install button, the paste and file paths open, saying why", () => {
  const plain = sectionOf("Plain");
  assert.equal(visible($(plain, "[data-role=key-share]")), false);
  assert.equal(visible($(plain, "[data-role=key-install]")), false);
  assert.equal($(plain, "[data-role=key-manual]").open, true);
  assert.equal(text(plain, "[data-role=key-manual-why]"), getMessage("openpgp_no_account"));
  assert.ok(visible($(plain, "[data-role=key-form]")));
});
