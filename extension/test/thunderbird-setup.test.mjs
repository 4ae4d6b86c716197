// The controller's Thunderbird half (modules/thunderbird-setup.js) against a simulated host
// and a fake Experiment (createThunderbirdAccounts over fakeExperiment): the one click,
// token renewal, restarts without a keyring, and where secrets go (only to the host).

import { test } from "node:test";
import assert from "node:assert/strict";

import { STORAGE_PREFIX } from "../modules/controller.js";
import { opStatus } from "../modules/state.js";
import { A, SETTINGS, SELF, startController } from "../test-support/sim-host.mjs";
import { eventually, fakeExperiment, hostError, makeGetMessage, waitFor } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();
const PASSWORD = "tb-saved-secret";
const IMAP = { imap: true, type: "imap", host: "mail.work.example", port: 143, security: "starttls", username: "alice" };
const OAUTH = { ...IMAP, host: "imap.mochi.test", port: 993, security: "tls", username: "alice@mochi.test", auth: "oauth2" };
const MARKED = { [STORAGE_PREFIX + A]: { ...SETTINGS, configured: true, joined: true, fromThunderbird: true } };

async function setup({ tb = { settings: { ...IMAP, auth: "password" }, password: PASSWORD }, handlers = {}, saved = {} } = {}) {
  const experiment = fakeExperiment({ [A]: tb, account4: { settings: { imap: false, type: "pop3", reason: "not_imap" } } });
  const ctx = await startController({ handlers, saved, experiment });
  const configures = () => ctx.fake.calls.filter((c) => c.method === "account.configure").map((c) => c.params);
  return { ...ctx, experiment, configures };
}

const click = async (ctx) => {
  return ctx.controller.handleIntent({ op: "useThunderbird", account: A });
};

/** Neither the storage nor the UI state (what the pages get) holds `secret`. */
function assertNowhere(ctx, secret) {
  assert.ok(!JSON.stringify(ctx.storage.data).includes(secret), "a secret reached storage.local");
  assert.ok(!JSON.stringify(ctx.controller.getState()).includes(secret), "a secret reached the UI state");
}

test("the Experiment's settings reach the state (no secret) for IMAP accounts only", async () => {
  const ctx = await setup();
  assert.deepEqual(ctx.acc().thunderbird, { available: true, ...IMAP, auth: "password" });
  assert.equal(ctx.controller.getState().byId.account4.thunderbird, null, "a POP3 account is not asked");
  assert.deepEqual(ctx.experiment.calls, [{ name: "getImapSettings", accountId: A }], "no credential read before the click");
});

test("one click (password): Thunderbird's settings and saved password → account.configure, then sma.join; only a marker stored", async () => {
  const ctx = await setup();
  const reply = await click(ctx);
  assert.equal(reply.ok, true);
  assert.deepEqual(ctx.configures(), [
    {
      account: A,
      email: "alice@example.org",
      device_name: "Thunderbird on Linux",
      imap: { host: "mail.work.example", port: 143, security: "starttls", username: "alice", password: PASSWORD },
      remember: false,
    },
  ]);
  const methods = ctx.fake.methods();
  assert.ok(methods.indexOf("sma.join") > methods.indexOf("account.configure"));
  assert.equal(ctx.acc().sma.self, SELF);
  assert.equal(ctx.acc().fromThunderbird, true);
  assert.deepEqual(opStatus(ctx.acc(), "useThunderbird"), { kind: "notice", key: "noticeUsedThunderbird", subs: ["mail.work.example"] });
  assert.equal(opStatus(ctx.acc(), "configure").kind, "none", "the manual form's line says nothing");
  const stored = ctx.storage.data[STORAGE_PREFIX + A];
  assert.equal(stored.fromThunderbird, true);
  assert.equal(stored.joined, true);
  assert.equal(stored.host, "mail.work.example");
  assertNowhere(ctx, PASSWORD);
});

test("one click (OAuth2): account.configure with auth oauth2 and Thunderbird's token", async () => {
  const ctx = await setup({ tb: { settings: OAUTH, tokens: ["tb-token-1"] } });
  assert.equal((await click(ctx)).ok, true);
  const [params] = ctx.configures();
  assert.deepEqual(params.imap, { host: "imap.mochi.test", port: 993, security: "tls", username: "alice@mochi.test", auth: "oauth2", access_token: "tb-token-1" });
  assert.ok(!ctx.experiment.calls.some((c) => c.name === "getPassword"), "no password asked for an OAuth2 account");
  assertNowhere(ctx, "tb-token-1");
});

test("one click when Thunderbird cannot: no saved password, a cancelled primary password, an unsupported server", async () => {
  for (const [tb, reason] of [
    [{ settings: { ...IMAP, auth: "password" }, password: null }, "no_saved_password"],
    [{ settings: { ...IMAP, auth: "password" }, password: new Error("primary_password_cancelled: cancelled") }, "primary_password_cancelled"],
    [{ settings: { ...IMAP, auth: "unsupported", reason: "auth_unsupported", detail: "GSSAPI" } }, "auth_unsupported"],
    [{ settings: new Error("unavailable: no MailServices") }, "unavailable"],
  ]) {
    const ctx = await setup({ tb });
    const reply = await click(ctx);
    assert.equal(reply.ok, false, reason);
    assert.equal(reply.error.reason, reason);
    const status = opStatus(ctx.acc(), "useThunderbird");
    assert.equal(status.kind, "error");
    assert.equal(status.key, `thunderbird_${reason}`);
    assert.ok(getMessage(status.key, status.subs), `a sentence for ${reason}`);
    assert.ok(!ctx.fake.methods().includes("account.configure"), `${reason}: nothing sent`);
    assert.equal(ctx.storage.data[STORAGE_PREFIX + A], undefined);
  }
});

test("a login the server refuses: the host's words on the button's line, nothing stored", async () => {
  const ctx = await setup({ handlers: { "account.configure": () => { throw hostError(-32012, "auth_failed"); } } });
  const reply = await click(ctx);
  assert.equal(reply.error.reason, "auth_failed");
  assert.equal(opStatus(ctx.acc(), "useThunderbird").text, getMessage("error_auth_failed"));
  assert.ok(!ctx.fake.methods().includes("sma.join"));
  assert.equal(ctx.storage.data[STORAGE_PREFIX + A], undefined);
});

test("account.token_needed: a fresh token from Thunderbird goes to account.token; the user sees nothing", async () => {
  const ctx = await setup({ tb: { settings: OAUTH, tokens: ["tb-token-1", "tb-token-2"] } });
  await click(ctx);
  ctx.fake.notify("account.token_needed", { account: A });
  await eventually(() => {
    const tokens = ctx.fake.calls.filter((c) => c.method === "account.token").map((c) => c.params);
    assert.deepEqual(tokens, [{ account: A, access_token: "tb-token-2" }]);
    assert.equal(ctx.acc().tokenNeeded, false);
  });
  assert.equal(opStatus(ctx.acc(), "token").kind, "none");
  assert.equal(ctx.acc().event, null, "no event to read");
  assert.deepEqual(ctx.notified, []);
  assertNowhere(ctx, "tb-token-2");
});

test("token_expired on a call: the token is renewed and the call runs again, once", async () => {
  let refused = true;
  const ctx = await setup({
    tb: { settings: OAUTH, tokens: ["tb-token-1", "tb-token-2"] },
    handlers: {
      "sma.sync": () => {
        if (refused) throw hostError(-32014, "token_expired");
        return { processed: 1, dropped: 0, sent: 0 };
      },
      "account.token": (p) => {
        refused = false;
        return { account: p.account };
      },
    },
  });
  await click(ctx);
  const reply = await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.equal(reply.ok, true);
  const after = ctx.fake.methods().slice(ctx.fake.methods().indexOf("sma.sync"));
  assert.deepEqual(after.slice(0, 3), ["sma.sync", "account.token", "sma.sync"]);
  assert.equal(opStatus(ctx.acc(), "sync").key, "noticeSynced");
});

test("the notification and the refused call of one episode ask Thunderbird once", async () => {
  let refused = true;
  const ctx = await setup({
    tb: { settings: OAUTH, tokens: ["tb-token-1", "tb-token-2", "tb-token-3"] },
    handlers: {
      "sma.sync": (p, host) => {
        if (!refused) return { processed: 0, dropped: 0, sent: 0 };
        // As the host does: the notification goes out before the call's error.
        host.notify("account.token_needed", { account: p.account });
        throw hostError(-32014, "token_expired");
      },
      "account.token": (p) => {
        refused = false;
        return { account: p.account };
      },
    },
  });
  await click(ctx);
  const reply = await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.equal(reply.ok, true);
  await eventually(() => {
    assert.equal(ctx.fake.calls.filter((c) => c.method === "account.token").length, 1);
    assert.equal(ctx.experiment.calls.filter((c) => c.name === "getAccessToken").length, 2, "the click's token and one renewal");
  });
});

test("Thunderbird cannot give a token: said on the token's line, and no loop", async () => {
  const ctx = await setup({ tb: { settings: OAUTH, tokens: ["tb-token-1", new Error("oauth2_failed: cancelled")] } });
  await click(ctx);
  ctx.fake.notify("account.token_needed", { account: A });
  await waitFor(() => opStatus(ctx.acc(), "token").key === "thunderbird_oauth2_failed");
  assert.equal(ctx.acc().tokenNeeded, true);
  assert.ok(!ctx.fake.methods().includes("account.token"));
});

test("a restarted host (no keyring): an account set up from Thunderbird is configured again at connect, nothing asked", async () => {
  const ctx = await setup({ saved: MARKED });
  assert.deepEqual(ctx.fake.methods().slice(0, 3), ["hello", "account.configure", "sma.status"]);
  assert.equal(ctx.configures()[0].imap.password, PASSWORD);
  assert.equal(ctx.acc().configured, true);
  assert.equal(ctx.acc().needsPassword, false);
  assert.deepEqual(ctx.notified, []);
  assertNowhere(ctx, PASSWORD);
});

test("credentials_missing in the middle of a session: configured again from Thunderbird, the call retried", async () => {
  let known = false;
  const ctx = await setup({
    saved: MARKED,
    handlers: {
      "account.configure": (p) => {
        known = true;
        return { account: p.account, capabilities: [], password_storage: "memory" };
      },
      "sma.sync": (p) => {
        if (!known) throw hostError(-32001, "unknown_account", { account: p.account, credentials_missing: true });
        return { processed: 0, dropped: 0, sent: 0 };
      },
    },
  });
  known = false; // the host restarted meanwhile
  const reply = await ctx.controller.handleIntent({ op: "sync", account: A });
  assert.equal(reply.ok, true);
  assert.equal(ctx.configures().length, 2);
  assert.equal(ctx.acc().needsPassword, false);
});

test("a manually configured account that lost its password: the page asks, and a notification says so, once", async () => {
  const ctx = await setup({
    saved: { [STORAGE_PREFIX + A]: { ...SETTINGS, configured: true, joined: true } },
    handlers: { "sma.status": (p) => { throw hostError(-32001, "unknown_account", { account: p.account, credentials_missing: true }); } },
  });
  assert.equal(ctx.acc().needsPassword, true);
  assert.ok(!ctx.fake.methods().includes("account.configure"), "not configured from Thunderbird: it was set up by hand");
  await ctx.controller.handleIntent({ op: "refresh", account: A });
  const asked = ctx.notified.filter((n) => n.titleKey === "notifyPasswordNeededTitle");
  assert.deepEqual(asked, [{ id: `password-${A}`, titleKey: "notifyPasswordNeededTitle", messageKey: "notifyPasswordNeededBody", subs: ["alice@example.org"] }]);
});

test("a manual configure after the one click clears the marker", async () => {
  const ctx = await setup();
  await click(ctx);
  await ctx.controller.handleIntent({ op: "configure", account: A, settings: SETTINGS, password: "typed" });
  await waitFor(() => ctx.storage.data[STORAGE_PREFIX + A].fromThunderbird === false);
  assert.equal(ctx.acc().fromThunderbird, false);
});
