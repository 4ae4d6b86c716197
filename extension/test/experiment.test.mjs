// The smaThunderbird Experiment's pure part (experiments/mapping.js) and its declaration.
// mapping.js is a classic script (see experiments/README.md): loaded here with node:vm, as
// Thunderbird loads it with Services.scriptloader.loadSubScript.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";

import { EXT_DIR } from "../test-support/fakes.mjs";

const read = (rel) => readFileSync(path.join(EXT_DIR, rel), "utf8");

function loadMapping() {
  const scope = {};
  vm.runInNewContext(read("experiments/mapping.js"), scope, { filename: "mapping.js" });
  return scope.smaMapping;
}
const mapping = loadMapping();
// The vm context has its own Object prototype: compare plain copies.
const settingsOf = (srv) => JSON.parse(JSON.stringify(mapping.imapSettings(srv, CONSTANTS)));

// Thunderbird 140's Ci.nsMsgSocketType and Ci.nsMsgAuthMethod, as read in a real Thunderbird
// (trySTARTTLS = 1 is gone there; older versions have it).
const SOCKET_TYPES = { plain: 0, alwaysSTARTTLS: 2, SSL: 3 };
const AUTH_METHODS = {
  none: 1,
  old: 2,
  passwordCleartext: 3,
  passwordEncrypted: 4,
  GSSAPI: 5,
  NTLM: 6,
  External: 7,
  secure: 8,
  anything: 9,
  OAuth2: 10,
};
const CONSTANTS = { socketTypes: SOCKET_TYPES, authMethods: AUTH_METHODS };
const server = (fields) => ({
  type: "imap",
  hostName: "mail.work.example",
  port: 143,
  socketType: 2,
  authMethod: 3,
  username: "alice",
  ...fields,
});

test("socket type: SSL → tls, alwaysSTARTTLS → starttls, plain → none, anything else unsupported", () => {
  assert.equal(mapping.security(3, SOCKET_TYPES), "tls");
  assert.equal(mapping.security(2, SOCKET_TYPES), "starttls");
  assert.equal(mapping.security(0, SOCKET_TYPES), "none");
  assert.equal(mapping.security(1, SOCKET_TYPES), "unsupported"); // the old "STARTTLS if available"
  assert.equal(mapping.security(1, { ...SOCKET_TYPES, trySTARTTLS: 1 }), "unsupported");
  assert.equal(mapping.security(undefined, SOCKET_TYPES), "unsupported");
});

test("auth method: both password kinds → password, OAuth2 → oauth2, the rest unsupported", () => {
  assert.equal(mapping.auth(3, AUTH_METHODS), "password");
  assert.equal(mapping.auth(4, AUTH_METHODS), "password");
  assert.equal(mapping.auth(10, AUTH_METHODS), "oauth2");
  for (const name of ["none", "old", "GSSAPI", "NTLM", "External", "secure", "anything"]) {
    assert.equal(mapping.auth(AUTH_METHODS[name], AUTH_METHODS), "unsupported", name);
  }
  assert.equal(mapping.auth(42, AUTH_METHODS), "unsupported");
});

test("the mapping follows the constants it is given, not numbers of its own", () => {
  const shifted = { plain: 10, alwaysSTARTTLS: 12, SSL: 13 };
  assert.equal(mapping.security(13, shifted), "tls");
  assert.equal(mapping.security(3, shifted), "unsupported");
});

test("imapSettings: the issue's account (mail.work.example:143 STARTTLS alice) exactly", () => {
  assert.deepEqual(settingsOf(server({})), {
    imap: true,
    type: "imap",
    host: "mail.work.example",
    port: 143,
    security: "starttls",
    username: "alice",
    auth: "password",
  });
  assert.deepEqual(settingsOf(server({ port: 993, socketType: 3, authMethod: 10 })), {
    imap: true,
    type: "imap",
    host: "mail.work.example",
    port: 993,
    security: "tls",
    username: "alice",
    auth: "oauth2",
  });
});

test("imapSettings: what is unsupported comes with a reason and Thunderbird's name for it", () => {
  const kerberos = mapping.imapSettings(server({ authMethod: 5 }), CONSTANTS);
  assert.equal(kerberos.auth, "unsupported");
  assert.equal(kerberos.reason, "auth_unsupported");
  assert.equal(kerberos.detail, "GSSAPI");
  const oldTls = mapping.imapSettings(server({ socketType: 1 }), CONSTANTS);
  assert.equal(oldTls.security, "unsupported");
  assert.equal(oldTls.reason, "security_unsupported");
  assert.equal(oldTls.detail, "1");
});

test("imapSettings: POP3, Local Folders and others are not IMAP, with no guessed server", () => {
  for (const type of ["pop3", "none", "nntp", "rss"]) {
    assert.deepEqual(settingsOf(server({ type })), { imap: false, type, reason: "not_imap" });
  }
});

test("loginOrigin: as Thunderbird saves an IMAP password (no user, no port)", () => {
  assert.equal(mapping.loginOrigin("127.0.0.1"), "imap://127.0.0.1");
  assert.equal(mapping.loginOrigin("mail.work.example"), "imap://mail.work.example");
  // MsgIncomingServer._getServerURI: brackets, then encodeURIComponent of the whole host.
  assert.equal(mapping.loginOrigin("::1"), "imap://%5B%3A%3A1%5D");
});

test("manifest: the Experiment is declared once, parent-only, under one name everywhere", () => {
  const manifest = JSON.parse(read("manifest.json"));
  assert.deepEqual(manifest.experiment_apis, {
    smaThunderbird: {
      schema: "experiments/schema.json",
      parent: {
        scopes: ["addon_parent"],
        paths: [["smaThunderbird"]],
        script: "experiments/implementation.js",
      },
    },
  });
  const [namespace] = JSON.parse(read("experiments/schema.json"));
  assert.equal(namespace.namespace, "smaThunderbird");
  assert.deepEqual(
    namespace.functions.map((f) => [f.name, f.async, f.parameters.map((p) => `${p.name}:${p.type}`)]),
    [
      ["getImapSettings", true, ["accountId:string"]],
      ["getPassword", true, ["accountId:string"]],
      ["getAccessToken", true, ["accountId:string"]],
      ["getIdentityKey", true, ["accountId:string"]],
      ["exportIdentityKey", true, ["accountId:string"]],
      ["installAccountKey", true, ["accountId:string", "armored:string", "passphrase:string"]],
      ["addCollectedKeys", true, ["keys:array"]],
    ],
  );
  const impl = read("experiments/implementation.js");
  assert.match(impl, /^var smaThunderbird = class extends ExtensionCommon\.ExtensionAPI \{$/m);
  for (const f of namespace.functions) {
    const params = f.parameters.map((p) => p.name).join(", ");
    assert.match(impl, new RegExp(`async ${f.name}\\(${params}\\)`));
  }
  // Correspondents' keys: each entry an object of strings, the source optional.
  const keys = namespace.functions.find((f) => f.name === "addCollectedKeys").parameters[0];
  assert.deepEqual(
    Object.entries(keys.items.properties).map(([name, p]) => [name, p.type, Boolean(p.optional)]),
    [
      ["email", "string", false],
      ["keydata", "string", false],
      ["source", "string", true],
    ],
  );
});

test("secrets only to the background: the functions handing out or taking one check first", () => {
  const impl = read("experiments/implementation.js");
  const body = (name) => {
    const start = impl.indexOf(`async ${name}(`);
    return impl.slice(start, impl.indexOf("\n        },\n", start));
  };
  for (const name of ["getPassword", "getAccessToken", "exportIdentityKey", "installAccountKey"]) {
    assert.match(body(name), /^\s*(backgroundOnly\(|const server = imapServerForCredentials\()/m, name);
  }
  for (const name of ["getImapSettings", "getIdentityKey", "addCollectedKeys"]) {
    assert.doesNotMatch(body(name), /backgroundOnly|imapServerForCredentials/, name);
  }
});

test("the Experiment logs nothing and has no generic entry point", () => {
  const impl = ["implementation.js", "mapping.js", "openpgp.js"].map((f) => read(`experiments/${f}`)).join("\n");
  assert.doesNotMatch(impl, /console\.|dump\(|Services\.console|\beval\(|new Function|Cu\.evalInSandbox/);
});
