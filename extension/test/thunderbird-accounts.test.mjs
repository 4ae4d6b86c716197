// modules/thunderbird-accounts.js: the Experiment's answers as values; every failure
// (Experiment missing, a function missing, a coded ExtensionError, any other throw) becomes
// {available: false, reason, message}, never an exception.

import { test } from "node:test";
import assert from "node:assert/strict";

import { REASONS, createThunderbirdAccounts } from "../modules/thunderbird-accounts.js";

const SETTINGS = {
  imap: true,
  type: "imap",
  host: "127.0.0.1",
  port: 1143,
  security: "none",
  username: "alice",
  auth: "password",
};

/** A messenger namespace with an Experiment whose functions do what `impl` says. */
function messengerWith(impl) {
  const calls = [];
  const smaThunderbird = {};
  for (const name of ["getImapSettings", "getPassword", "getAccessToken"]) {
    smaThunderbird[name] = async (accountId) => {
      calls.push([name, accountId]);
      if (!impl[name]) throw new Error("An unexpected error occurred");
      return impl[name](accountId);
    };
  }
  return { api: { accounts: {}, smaThunderbird }, calls };
}

test("with the Experiment: settings, password and token come through as values", async () => {
  const { api, calls } = messengerWith({
    getImapSettings: () => SETTINGS,
    getPassword: () => "s3cret",
    getAccessToken: () => "token-1",
  });
  const tb = createThunderbirdAccounts(api);
  assert.equal(tb.present(), true);
  assert.deepEqual(await tb.imapSettings("account1"), { available: true, ...SETTINGS });
  assert.deepEqual(await tb.password("account1"), { available: true, password: "s3cret" });
  assert.deepEqual(await tb.accessToken("account1"), { available: true, accessToken: "token-1" });
  assert.deepEqual(calls, [
    ["getImapSettings", "account1"],
    ["getPassword", "account1"],
    ["getAccessToken", "account1"],
  ]);
});

test("no saved password is an answer, not a failure", async () => {
  const { api } = messengerWith({ getPassword: () => null });
  assert.deepEqual(await createThunderbirdAccounts(api).password("account1"), { available: true, password: null });
});

test("a POP3 account is an answer (not IMAP), not a failure", async () => {
  const pop = { imap: false, type: "pop3", reason: "not_imap" };
  const { api } = messengerWith({ getImapSettings: () => pop });
  assert.deepEqual(await createThunderbirdAccounts(api).imapSettings("account2"), { available: true, ...pop });
});

test("without the Experiment (messenger lacks it, or no messenger at all): experiment_missing", async () => {
  for (const api of [{ accounts: {} }, { smaThunderbird: {} }, undefined, null]) {
    const tb = createThunderbirdAccounts(api ?? { accounts: {} });
    assert.equal(tb.present(), false);
    for (const call of [tb.imapSettings, tb.password, tb.accessToken]) {
      const answer = await call("account1");
      assert.equal(answer.available, false);
      assert.equal(answer.reason, "experiment_missing");
      assert.match(answer.message, /^smaThunderbird\.get\w+ is missing$/);
    }
  }
});

test("the default namespace is the add-on's own messenger (or browser)", async () => {
  const saved = globalThis.messenger;
  try {
    globalThis.messenger = messengerWith({ getImapSettings: () => SETTINGS }).api;
    assert.deepEqual(await createThunderbirdAccounts().imapSettings("account1"), { available: true, ...SETTINGS });
    delete globalThis.messenger;
    assert.equal((await createThunderbirdAccounts().imapSettings("account1")).reason, "experiment_missing");
  } finally {
    if (saved === undefined) delete globalThis.messenger;
    else globalThis.messenger = saved;
  }
});

test("a coded ExtensionError becomes its reason and sentence", async () => {
  const cases = [
    ["background_only: only the add-on's background may ask for credentials", "background_only", "only the add-on's background may ask for credentials"],
    ["no_account: Thunderbird has no account account9", "no_account", "Thunderbird has no account account9"],
    ["not_imap: account account2 is a pop3 account, not IMAP", "not_imap", "account account2 is a pop3 account, not IMAP"],
    ["primary_password_cancelled: the primary password was not entered", "primary_password_cancelled", "the primary password was not entered"],
    ["unavailable: this Thunderbird has no resource:///modules/OAuth2Module.sys.mjs", "unavailable", "this Thunderbird has no resource:///modules/OAuth2Module.sys.mjs"],
    ["oauth2_no_provider: Thunderbird knows no OAuth2 provider for x", "oauth2_no_provider", "Thunderbird knows no OAuth2 provider for x"],
    ["oauth2_failed: Thunderbird got no access token for x", "oauth2_failed", "Thunderbird got no access token for x"],
    ["not_oauth2: account account1 does not sign in with OAuth2", "not_oauth2", "account account1 does not sign in with OAuth2"],
  ];
  for (const [message, reason, sentence] of cases) {
    assert.ok(REASONS.includes(reason));
    const fail = () => {
      const e = new Error(message);
      e.name = "ExtensionError";
      throw e;
    };
    const { api } = messengerWith({ getImapSettings: fail, getPassword: fail, getAccessToken: fail });
    const tb = createThunderbirdAccounts(api);
    for (const call of [tb.imapSettings, tb.password, tb.accessToken]) {
      assert.deepEqual(await call("account1"), { available: false, reason, message: sentence });
    }
  }
});

test("any other throw (Thunderbird's generic error, a non-Error, a sync throw) is 'failed'", async () => {
  const throwers = [
    () => {
      throw new Error("An unexpected error occurred");
    },
    () => {
      throw "plain string";
    },
    () => {
      throw new Error("some_code_we_do_not_know: text");
    },
    () => {
      throw undefined;
    },
  ];
  for (const thrower of throwers) {
    const api = { smaThunderbird: { getImapSettings: thrower, getPassword: thrower, getAccessToken: thrower } };
    const tb = createThunderbirdAccounts(api);
    for (const call of [tb.imapSettings, tb.password, tb.accessToken]) {
      const answer = await call("account1");
      assert.equal(answer.available, false);
      assert.equal(answer.reason, "failed");
      assert.equal(typeof answer.message, "string");
    }
  }
});

test("a failure never carries a secret: only the Experiment's own sentence", async () => {
  const { api } = messengerWith({});
  const answer = await createThunderbirdAccounts(api).password("account1");
  assert.deepEqual(answer, { available: false, reason: "failed", message: "An unexpected error occurred" });
});
