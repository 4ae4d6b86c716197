// Integration: the add-on's own modules (controller → HostPort) drive two real
// `.venv/bin/sma-host` processes over Thunderbird's framing against a throw-away Dovecot:
// configure, join, pair (code shown on the new device, typed on the existing one), the
// account key arriving, sync, remove, leave, and errors in words; every notification the
// hosts send holds against its JSON Schema. Skipped, with the reason,
// when the project's .venv or Dovecot is missing (`make test` provides both); in CI
// (CI set, as .ci/run does) that is a failure instead, so a broken helper cannot pass.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

import { HOST_REASONS, HostPort } from "../modules/host-port.js";
import { METHODS } from "../modules/catalogue.js";
import { createController } from "../modules/controller.js";
import { opStatus } from "../modules/state.js";
import { EXT_DIR, FakeStorageArea, REPO_DIR, fakeAccounts, makeGetMessage, silentLogger } from "../test-support/fakes.mjs";
import { notificationViolations } from "../test-support/notification-schemas.mjs";
import { stdioRuntime } from "../test-support/stdio-runtime.mjs";

const HOST_EXE = path.join(REPO_DIR, ".venv", "bin", "sma-host");
const PYTHON = path.join(REPO_DIR, ".venv", "bin", "python");
const A = "account1";
// A real OpenPGP secret key (tests/data/README.md): the host checks it with Sequoia.
const SECRET_KEY = readFileSync(path.join(REPO_DIR, "tests", "data", "account-secret-key.asc"), "utf8");
const getMessage = makeGetMessage();
const IN_CI = Boolean(process.env.CI) && !["0", "false"].includes(process.env.CI.toLowerCase());

async function startDovecot() {
  if (!existsSync(HOST_EXE) || !existsSync(PYTHON)) {
    return { skip: `${path.relative(REPO_DIR, HOST_EXE)} is missing (run make venv or make test)` };
  }
  const proc = spawn(PYTHON, [path.join(EXT_DIR, "test-support", "dovecot_server.py")], {
    cwd: REPO_DIR,
    env: { ...process.env, PYTHONPATH: REPO_DIR },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise((resolve) => {
    const rl = readline.createInterface({ input: proc.stdout });
    rl.once("line", (l) => resolve(l));
    proc.once("exit", () => resolve(JSON.stringify({ skip: "the Dovecot helper exited" })));
  });
  const info = JSON.parse(line);
  return { ...info, proc };
}

async function waitFor(what, predicate, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function device(name, email, tmp) {
  const dataDir = mkdtempSync(path.join(tmp, `${name}-`));
  const runtime = stdioRuntime({
    command: HOST_EXE,
    cwd: path.dirname(HOST_EXE),
    env: {
      SMA_HOST_DATA_DIR: dataDir,
      // Never touch the machine's real keyring from a test.
      PYTHON_KEYRING_BACKEND: "keyring.backends.fail.Keyring",
    },
  });
  const host = new HostPort({ runtime, getMessage, logger: silentLogger });
  // Every notification this device's host sends, for the schema check at the end.
  const received = [];
  host.on("*", (method, params) => received.push({ method, params }));
  const notified = [];
  const controller = createController({
    host,
    storage: new FakeStorageArea(),
    accounts: fakeAccounts([{ id: A, name: "Work", type: "imap", identities: [{ email }] }]),
    notify: (n) => notified.push(n),
    deviceName: name,
    logger: silentLogger,
  });
  const acc = () => controller.getState().byId[A];
  const intent = (op, extra = {}) => controller.handleIntent({ op, account: A, ...extra });
  return { name, host, runtime, controller, received, notified, acc, intent };
}

describe("integration with the real sma-host and Dovecot", async () => {
  const server = await startDovecot();
  const skip = server.skip && !IN_CI ? `integration skipped: ${server.skip}` : false;
  if (skip) console.log(skip);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "sma-addon-it-"));
  const devices = [];
  let laptop; // the existing device E
  let phone; // the new device N
  let settings;

  before(async () => {
    if (skip) return;
    if (server.skip) throw new Error(`integration cannot run (CI=${process.env.CI}): ${server.skip}`);
    const [user, password] = server.users[0];
    settings = { email: `${user}@example.org`, deviceName: "x", host: server.host, port: server.port, security: "none", username: user, remember: false };
    settings.password = password;
    laptop = device("Laptop", settings.email, tmp);
    phone = device("Phone", settings.email, tmp);
    devices.push(laptop, phone);
    for (const d of devices) {
      await d.controller.start();
      await waitFor(`${d.name} connected`, () => d.controller.getState().host.state === "connected");
    }
  });

  after(() => {
    for (const d of devices) d.host.close();
    if (server.proc) server.proc.stdin.end();
    rmSync(tmp, { recursive: true, force: true });
  });

  const configure = (d, extra = {}) => {
    const { password, ...rest } = { ...settings, deviceName: d.name, ...extra };
    return d.intent("configure", { settings: rest, password });
  };

  it("hello: the host serves exactly the catalogue and the reasons the add-on maps", { skip }, () => {
    const hello = laptop.host.hello;
    assert.equal(hello.protocol, 1);
    assert.deepEqual([...hello.methods].sort(), [...METHODS].sort());
    assert.deepEqual([...hello.reasons].sort(), [...HOST_REASONS].sort());
  });

  it("errors in words: unknown account, unknown method, wrong password, refused plaintext", { skip }, async () => {
    const status = await laptop.intent("refresh");
    assert.equal(status.error.reason, "unknown_account");
    assert.equal(opStatus(laptop.acc(), "status").text, getMessage("error_unknown_account"));
    const nope = await laptop.host.call("nope", {}).catch((e) => e);
    assert.match(laptop.host.describeError(nope), /“nope”/);
    const wrong = await configure(laptop, { password: "wrong-password" });
    assert.equal(wrong.error.reason, "auth_failed");
    assert.equal(opStatus(laptop.acc(), "configure").text, getMessage("error_auth_failed"));
    const plain = await configure(laptop, { host: "imap.example.invalid" });
    assert.equal(plain.error.reason, "insecure_refused");
    assert.match(opStatus(laptop.acc(), "configure").text, /imap\.example\.invalid/);
  });

  it("configure both devices; without a keyring 'remember' is reported as memory only", { skip }, async () => {
    const a = await configure(laptop);
    assert.equal(a.ok, true, JSON.stringify(a.error));
    assert.equal(opStatus(laptop.acc(), "configure").key, "noticeConfigured");
    const b = await configure(phone, { remember: true });
    assert.equal(b.ok, true, JSON.stringify(b.error));
    assert.equal(phone.acc().passwordStorage, "memory");
    assert.equal(opStatus(phone.acc(), "configure").key, "noticeConfiguredNoKeyring");
    assert.ok(opStatus(phone.acc(), "configure").subs[1].length > 0, "the host says why");
    await waitFor("status after configure", () => laptop.acc().sma && phone.acc().sma);
    assert.equal(laptop.acc().sma.self, null);
  });

  it("the first device sets the account key and joins; the second joins", { skip }, async () => {
    assert.equal((await laptop.intent("keySet", { armored: SECRET_KEY })).ok, true);
    assert.equal((await laptop.intent("join")).ok, true);
    assert.equal((await phone.intent("join")).ok, true);
    assert.ok(laptop.acc().sma.self && phone.acc().sma.self);
    await laptop.intent("refresh");
    const others = laptop.acc().sma.muaas.filter((m) => !m.self);
    assert.deepEqual(others.map((m) => [m.muaa_id, m.name, m.paired]), [[phone.acc().sma.self, "Phone", false]]);
  });

  it("pairing: the new device shows a code, the existing one gets a request and types it", { skip }, async () => {
    const request = await phone.intent("pairRequest");
    assert.equal(request.ok, true, JSON.stringify(request.error));
    const { code, pairing_id: pid } = phone.acc().outgoing;
    assert.match(code, /^\d{5}-\d{5}$/);
    await waitFor("pair.requested on the laptop", () => laptop.acc().incoming[pid]);
    assert.equal(laptop.acc().incoming[pid].peer_name, "Phone");
    assert.equal(laptop.notified.find((n) => n.id === `pair-${pid}`).titleKey, "notifyPairRequestedTitle");
    const accept = await laptop.intent("pairAccept", { pairing_id: pid, code });
    assert.equal(accept.ok, true, JSON.stringify(accept.error));
    await waitFor("pair.completed on both", () => phone.acc().outgoing.state === "complete" && laptop.acc().incoming[pid].state === "complete");
    assert.equal(phone.acc().outgoing.account_key_received, true);
    await waitFor("paired in the laptop's list", () => laptop.acc().sma.muaas.some((m) => !m.self && m.paired));
  });

  it("the paired device exports the account key the first device set", { skip }, async () => {
    const got = await phone.intent("keyGet");
    assert.equal(got.result.armored, SECRET_KEY);
    assert.equal(opStatus(phone.acc(), "keyGet").key, "noticeKeyReady");
  });

  // This caught a host bug (the watcher stalled after a pairing: imapclient buffered IDLE's
  // continuation); kept as a regression test.
  it("a second pairing request reaches the existing device by push", { skip }, async () => {
    await phone.intent("pairRequest");
    const { pairing_id: pid } = phone.acc().outgoing;
    await waitFor("a second pair.requested by push", () => laptop.acc().incoming[pid], 8000);
  });

  it("a wrong code fails on both sides, in words", { skip }, async () => {
    let { code, pairing_id: pid, state } = phone.acc().outgoing;
    if (state !== "waiting") {
      await phone.intent("pairRequest");
      ({ code, pairing_id: pid } = phone.acc().outgoing);
    }
    // What the user does when no request shows up: "Sync now" on the existing device.
    if (!laptop.acc().incoming[pid]) await laptop.intent("sync");
    await waitFor("pair.requested on the laptop", () => laptop.acc().incoming[pid]);
    const wrong = code.startsWith("0") ? `1${code.slice(1)}` : `0${code.slice(1)}`;
    const accepted = await laptop.intent("pairAccept", { pairing_id: pid, code: wrong });
    assert.equal(accepted.ok, true, JSON.stringify(accepted.error));
    await waitFor("pair.failed on both", () => phone.acc().outgoing.state === "failed" && laptop.acc().incoming[pid].state === "failed");
    assert.equal(phone.acc().event.key, "pairReason_confirmation_failed");
    assert.equal(laptop.acc().event.key, "pairReason_peer_confirmation_failed");
    const again = await laptop.intent("pairAccept", { pairing_id: pid, code });
    assert.equal(again.error.reason, "pairing_failed");
    assert.equal(opStatus(laptop.acc(), "pairAccept", pid).text, getMessage("error_pairing_failed"));
  });

  it("sync now, remove the other device, leave", { skip }, async () => {
    const sync = await laptop.intent("sync");
    assert.equal(sync.ok, true, JSON.stringify(sync.error));
    assert.equal(opStatus(laptop.acc(), "sync").key, "noticeSynced");
    const phoneId = phone.acc().sma.self;
    const removed = await laptop.intent("remove", { muaa_id: phoneId });
    assert.equal(removed.ok, true, JSON.stringify(removed.error));
    assert.ok(!laptop.acc().sma.muaas.some((m) => m.muaa_id === phoneId));
    await phone.intent("sync");
    await waitFor("the phone knows it was removed", () => phone.acc().sma && phone.acc().sma.removed);
    const left = await laptop.intent("leave");
    assert.equal(left.ok, true, JSON.stringify(left.error));
    assert.equal(laptop.acc().sma.self, null);
  });

  it("every notification the two hosts sent holds against its JSON Schema", { skip }, () => {
    const received = devices.flatMap((d) => d.received);
    // Not vacuous: the pairings above run on pushed notifications.
    assert.ok(received.some((n) => n.method === "pair.requested"), JSON.stringify(received.map((n) => n.method)));
    assert.deepEqual(received.flatMap((n) => notificationViolations(n.method, n.params)), []);
  });
});
