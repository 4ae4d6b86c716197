// Static checks of the add-on's files: manifest, locales, markup.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { HOST_REASONS, INSTALL_COMMAND, LOCAL_REASONS, reasonMessageKey } from "../modules/host-port.js";
import { OPERATIONS } from "../modules/catalogue.js";
import { PAIR_FAILURE_REASONS, THUNDERBIRD_REASONS, openpgpReasonKey, thunderbirdReasonKey } from "../modules/state.js";
import { OPENPGP_REASONS } from "../modules/thunderbird-openpgp.js";
import { EXT_DIR, loadMessages } from "../test-support/fakes.mjs";

const read = (rel) => readFileSync(path.join(EXT_DIR, rel), "utf8");
const manifest = JSON.parse(read("manifest.json"));
const messages = loadMessages();

function sourceFiles(ext) {
  const out = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (["node_modules", "test", "test-support", "_locales"].includes(entry.name)) continue;
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(ext)) out.push(p);
    }
  };
  walk(EXT_DIR);
  return out;
}

test("manifest: MV3, fixed id, Thunderbird 128+, only the permissions used", () => {
  assert.equal(manifest.manifest_version, 3);
  assert.equal(manifest.browser_specific_settings.gecko.id, "sma-host@autocrypt.org");
  assert.equal(manifest.browser_specific_settings.gecko.strict_min_version, "128.0");
  assert.deepEqual([...manifest.permissions].sort(), ["accountsRead", "messagesRead", "nativeMessaging", "notifications", "storage"]);
  assert.equal(manifest.applications, undefined);
  assert.equal(manifest.default_locale, "en");
  for (const file of [manifest.background.scripts[0], manifest.options_ui.page, manifest.action.default_popup, manifest.action.default_icon]) {
    assert.ok(existsSync(path.join(EXT_DIR, file)), file);
  }
});

test("manifest: every permission is used by the code", () => {
  const code = sourceFiles(".js").map((f) => readFileSync(f, "utf8")).join("\n");
  const uses = {
    nativeMessaging: /connectNative/,
    accountsRead: /accounts\b/,
    messagesRead: /messages\.onNewMailReceived/,
    storage: /storage\.local/,
    notifications: /notifications\s*\.create/,
  };
  for (const permission of manifest.permissions) assert.match(code, uses[permission], permission);
});

test("manifest's __MSG_ keys exist", () => {
  const keys = [...JSON.stringify(manifest).matchAll(/__MSG_([A-Za-z0-9_@]+)__/g)].map((m) => m[1]);
  assert.ok(keys.length >= 3);
  for (const key of keys) assert.ok(messages[key], key);
});

test("messages.json: valid keys, non-empty messages, a description for translators", () => {
  for (const [key, entry] of Object.entries(messages)) {
    assert.match(key, /^[A-Za-z0-9_@]+$/, key);
    assert.ok(!key.startsWith("@@"), key);
    assert.equal(typeof entry.message, "string", key);
    assert.ok(entry.message.trim().length > 0, key);
    assert.ok(entry.description, key);
    assert.doesNotMatch(entry.message.replace(/\$\$|\$[1-9]/g, ""), /\$/, `stray $ in ${key}`);
  }
});

/** Keys referenced in markup and code (literal ones; the dynamic families are listed). */
function referencedKeys() {
  const keys = new Set();
  for (const file of sourceFiles(".html")) {
    for (const m of readFileSync(file, "utf8").matchAll(/data-i18n(?:-[a-z-]+)?="([^"]+)"/g)) keys.add(m[1]);
  }
  const keyish = /^(?:[a-z]+[A-Z][A-Za-z0-9]*|(?:error|pending|pairReason|os)_[A-Za-z_]+)$/;
  for (const file of sourceFiles(".js")) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!/msg\(|getMessage\(|key: |key = |Key: |notice\(|button\(|fieldError|return "|\? "/.test(line)) continue;
      for (const m of line.matchAll(/"([A-Za-z0-9_@]+)"/g)) if (keyish.test(m[1])) keys.add(m[1]);
    }
  }
  return keys;
}

function dynamicKeys() {
  return new Set([
    ...[...HOST_REASONS, ...LOCAL_REASONS, "ui_disconnected", "unknown_intent"].map(reasonMessageKey),
    "error_unknown_account_credentials_missing",
    ...[...Object.keys(OPERATIONS), "useThunderbird", "keyShare", "keyInstall"].map((op) => `pending_${op}`),
    ...THUNDERBIRD_REASONS.map(thunderbirdReasonKey),
    ...OPENPGP_REASONS.map(openpgpReasonKey),
    ...[...PAIR_FAILURE_REASONS, "other"].map((r) => `pairReason_${r}`),
    ...["linux", "mac", "win", "openbsd", "android", "cros"].map((os) => `os_${os}`),
  ]);
}

test("every message key used in markup and code exists", () => {
  const missing = [...referencedKeys(), ...dynamicKeys()].filter((k) => !messages[k]);
  assert.deepEqual(missing, []);
});

test("every message in messages.json is used", () => {
  const used = new Set([...referencedKeys(), ...dynamicKeys()]);
  const manifestText = JSON.stringify(manifest);
  const unused = Object.keys(messages).filter((k) => !used.has(k) && !manifestText.includes(`__MSG_${k}__`));
  assert.deepEqual(unused, []);
});

test("no hard-coded UI text in the HTML (commands in <code> excepted)", () => {
  for (const file of sourceFiles(".html")) {
    const text = readFileSync(file, "utf8")
      .replace(/<!--[\s\S]*?-->/g, "")
      .replace(/<(script|style|code)\b[\s\S]*?<\/\1>/g, "")
      .replace(/<[^>]+>/g, "")
      .trim();
    assert.equal(text, "", `${path.relative(EXT_DIR, file)} has text: ${text.slice(0, 80)}`);
  }
});

test("no hard-coded UI text assigned in the code", () => {
  for (const file of sourceFiles(".js")) {
    const src = readFileSync(file, "utf8");
    assert.doesNotMatch(src, /\.(textContent|innerText|title)\s*=\s*["'`][^"'`]*[A-Za-z]/, file);
    assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, file);
  }
});

test("markup: every form control has a label; interactive elements are native and keyboard-usable", () => {
  for (const file of sourceFiles(".html")) {
    const html = readFileSync(file, "utf8");
    for (const m of html.matchAll(/<(input|select|textarea)\b([^>]*)>/g)) {
      const field = /data-field="([^"]+)"/.exec(m[2]);
      assert.ok(field, `${file}: control without data-field: ${m[0]}`);
      assert.match(html, new RegExp(`<label[^>]*data-for="${field[1]}"`), `${file}: no label for ${field[1]}`);
    }
    assert.doesNotMatch(html, /onclick=|tabindex="[1-9]/, file);
    assert.doesNotMatch(html, /<(div|span)[^>]*data-action=/, `${file}: actions must be buttons`);
    assert.match(html, /<html lang=/, file);
  }
});

test("operation status lines are live regions", () => {
  const html = read("options/options.html");
  for (const m of html.matchAll(/<p[^>]*class="op-status"[^>]*>/g)) {
    assert.match(m[0], /aria-live="polite"/, m[0]);
  }
  for (const op of ["configure", "join", "sync", "leave", "pairRequest", "keySet", "keyGet", "status"]) {
    assert.match(html, new RegExp(`data-op-status="${op}"`), op);
  }
});

test("one install command: the same on the page, the popup, the help page and in both READMEs; the help page links the README", () => {
  const command = INSTALL_COMMAND;
  for (const readme of ["../README.md", "README.md"]) {
    assert.ok(read(readme).includes(command), `${readme} does not show “${command}”`);
    assert.ok(!/^\s*sma-host install --user\s*$/m.test(read(readme)), `${readme} still shows the bare command, not on PATH after make venv`);
  }
  assert.match(read("help/install.js"), /INSTALL_COMMAND/);
  for (const page of ["options/options.js", "popup/popup.js"]) assert.match(read(page), /installCommand/, page);
  const help = read("help/install.html");
  assert.match(help, /<a id="readme-link" href="README\.txt"/);
  assert.match(JSON.parse(read("package.json")).scripts.build, /^node test-support\/copy-readme\.mjs && /);
  assert.match(read("test-support/copy-readme.mjs"), /"help", "README\.txt"/);
});
