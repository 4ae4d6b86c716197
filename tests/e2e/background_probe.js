// Frame script loaded into the add-on's background page (tests/e2e/harness.py,
// Thunderbird.load_probe/probe) for the Experiment scenarios: it calls the add-on's
// smaThunderbird Experiment where the add-on itself calls it, in its background, until the
// settings page has its "Use Thunderbird's settings" button. Also loaded into the settings
// page, to check that a page is refused credentials.
//
// A password or token never leaves this script: the test sends the SHA-256 of what it
// expects, and gets back only whether the secret Thunderbird handed out has that hash.
// Fixed verbs only; it runs nothing it is sent.
//
// Protocol: "sma-e2e-probe:call" {id, verb, args} → "sma-e2e-probe:reply" {id, ok, value | error}.

/* global content, addMessageListener, sendAsyncMessage, Cc, Ci, Cu */
"use strict";

(() => {
  const experiment = () => content.wrappedJSObject.messenger.smaThunderbird;
  // Page values (another compartment) as plain data for the reply.
  const plain = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

  function sha256(text) {
    const bytes = new TextEncoder().encode(text);
    const hash = Cc["@mozilla.org/security/hash;1"].createInstance(Ci.nsICryptoHash);
    hash.init(Ci.nsICryptoHash.SHA256);
    hash.update(bytes, bytes.length);
    return [...hash.finish(false)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  }

  /** The Experiment's answer, or {error} with its message (which never holds a secret). */
  async function attempt(call) {
    try {
      return { value: await call() };
    } catch (e) {
      return { error: String((e && e.message) || e) };
    }
  }

  const verbs = {
    ready() {
      return Boolean(content.wrappedJSObject.messenger && experiment());
    },
    /** The MailExtension accounts: [{id, type}]. */
    async accounts() {
      const list = await content.wrappedJSObject.messenger.accounts.list(false);
      return plain([...list].map((a) => ({ id: a.id, type: a.type })));
    },
    async imapSettings({ accountId }) {
      const { value, error } = await attempt(() => experiment().getImapSettings(accountId));
      return error ? { error } : { value: plain(value) };
    },
    /** {kind: "password" | "token"}: whether the secret's SHA-256 is `sha256` (null: none). */
    async secretMatches({ kind, accountId, sha256: expected }) {
      const fn = { password: "getPassword", token: "getAccessToken" }[kind];
      if (!fn) throw new Error(`unknown secret ${kind}`);
      const { value, error } = await attempt(() => experiment()[fn](accountId));
      if (error) return { error };
      if (value === null || value === undefined) return { found: false };
      return { found: true, matches: sha256(String(value)) === expected };
    },
    /**
     * One of the Experiment's OpenPGP functions (these four only), as the add-on's
     * background calls it. exportIdentityKey's answer (a passphrase-protected key and its
     * one-time passphrase) goes back to the test, which hands it to the other profile's
     * installAccountKey and never logs it.
     */
    async openpgp({ name, args }) {
      const allowed = ["getIdentityKey", "exportIdentityKey", "installAccountKey", "addCollectedKeys"];
      if (!allowed.includes(name)) throw new Error(`not an OpenPGP function: ${name}`);
      const page = content.wrappedJSObject;
      const { value, error } = await attempt(() => experiment()[name](...Cu.cloneInto(args || [], page)));
      return error ? { error } : { value: plain(value) };
    },
  };

  addMessageListener("sma-e2e-probe:call", async (message) => {
    const { id, verb, args } = message.data;
    try {
      if (!verbs[verb]) throw new Error(`unknown verb ${verb}`);
      sendAsyncMessage("sma-e2e-probe:reply", { id, ok: true, value: await verbs[verb](args || {}) });
    } catch (e) {
      sendAsyncMessage("sma-e2e-probe:reply", { id, ok: false, error: String((e && e.message) || e) });
    }
  });
})();
