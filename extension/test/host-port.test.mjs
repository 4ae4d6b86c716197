import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import {
  DEFAULT_BACKOFF,
  HOST_NAME,
  HOST_REASONS,
  HostPort,
  INSTALL_COMMAND,
  LOCAL_REASONS,
  RpcError,
  describeError,
  isHostMissingError,
  reasonMessageKey,
} from "../modules/host-port.js";
import { EXT_DIR, REPO_DIR, FakeClock, FakeRuntime, waitFor, makeGetMessage, silentLogger } from "../test-support/fakes.mjs";

const getMessage = makeGetMessage();

function makePort(options = {}) {
  const runtime = options.runtime ?? new FakeRuntime({ mode: options.mode ?? "ok" });
  const clock = options.clock ?? new FakeClock();
  const port = new HostPort({
    runtime,
    clock,
    getMessage,
    random: () => 0.5, // no jitter
    logger: silentLogger,
    ...options.extra,
  });
  const states = [];
  port.onStateChange((s) => states.push(s.state));
  return { runtime, clock, port, states };
}

test("connects to org_autocrypt_sma_host and says hello first", async () => {
  const { runtime, port, states } = makePort();
  port.connect();
  assert.equal(runtime.ports.length, 1);
  assert.equal(runtime.port.name, HOST_NAME);
  assert.deepEqual(runtime.port.sent[0], { jsonrpc: "2.0", id: 1, method: "hello", params: {} });
  await waitFor(() => port.state === "connected");
  assert.equal(port.hello.version, "0.1.0");
  assert.deepEqual(states, ["connecting", "connected"]);
});

test("request ids increment and every request is a JSON-RPC 2.0 envelope", async () => {
  const { runtime, port } = makePort({ mode: "silent" });
  const p1 = port.call("sma.status", { account: "a1" });
  const p2 = port.call("pair.list", { account: "a1" });
  const p3 = port.call("sma.sync", { account: "a2" });
  const sent = runtime.port.sent;
  assert.deepEqual(
    sent.map((m) => m.id),
    [1, 2, 3, 4],
  );
  for (const m of sent) assert.equal(m.jsonrpc, "2.0");
  assert.deepEqual(sent[1], { jsonrpc: "2.0", id: 2, method: "sma.status", params: { account: "a1" } });
  // answers out of order are matched by id
  runtime.port.reply(4, { processed: 1, dropped: 0 });
  runtime.port.reply(2, { exists: true, self: null, muaas: [] });
  runtime.port.reply(3, { pairings: [] });
  assert.deepEqual(await p1, { exists: true, self: null, muaas: [] });
  assert.deepEqual(await p2, { pairings: [] });
  assert.deepEqual(await p3, { processed: 1, dropped: 0 });
  assert.equal(port.pendingCount, 1); // hello, never answered
});

test("ids keep counting across reconnects", async () => {
  const { runtime, clock, port } = makePort();
  port.connect();
  await waitFor(() => port.state === "connected");
  const first = port.call("sma.status", { account: "a" }).catch((e) => e);
  runtime.port.hostExit();
  await first;
  clock.advance(DEFAULT_BACKOFF.initialMs);
  assert.equal(runtime.ports.length, 2);
  assert.equal(runtime.port.sent[0].id, 3);
});

test("an error reply rejects with RpcError carrying code, reason and data", async () => {
  const { runtime, port } = makePort();
  const p = port.call("account.configure", { account: "a" });
  runtime.port.replyError(2, -32012, "auth_failed", {}, "login refused");
  const err = await p.catch((e) => e);
  assert.ok(err instanceof RpcError);
  assert.equal(err.code, -32012);
  assert.equal(err.reason, "auth_failed");
  assert.equal(err.method, "account.configure");
  assert.equal(err.local, false);
  assert.equal(port.describeError(err), getMessage("error_auth_failed"));
});

test("per-request timeouts: method defaults, overrides, and late answers are dropped", async () => {
  const clock = new FakeClock();
  const { runtime, port } = makePort({ mode: "silent", clock, extra: { defaultTimeoutMs: 1000, timeouts: { "pair.list": 200 } } });
  const slow = port.call("sma.sync", { account: "a" }).catch((e) => e);
  const quick = port.call("pair.list", { account: "a" }).catch((e) => e);
  const custom = port.call("sma.status", { account: "a" }, { timeoutMs: 50 }).catch((e) => e);
  clock.advance(50);
  const c = await custom;
  assert.equal(c.reason, "timeout");
  assert.equal(c.data.timeout_ms, 50);
  clock.advance(150);
  assert.equal((await quick).reason, "timeout");
  clock.advance(799);
  assert.equal(port.pendingCount, 2); // hello (10 s) and sma.sync
  clock.advance(1);
  const s = await slow;
  assert.equal(s.reason, "timeout");
  assert.match(port.describeError(s), /1 seconds/);
  // a late answer for a timed-out id changes nothing
  runtime.port.reply(2, { processed: 0, dropped: 0 });
  assert.equal(port.pendingCount, 1);
  clock.advance(10_000);
  assert.equal(port.pendingCount, 0); // hello timed out too
});

test("a disconnect rejects every pending call and reconnects with exponential backoff", async () => {
  const clock = new FakeClock();
  const runtime = new FakeRuntime({ mode: "silent" });
  const { port, states } = makePort({ runtime, clock, extra: { backoff: { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 } } });
  const a = port.call("sma.sync", { account: "a" }).catch((e) => e);
  const b = port.call("sma.status", { account: "b" }).catch((e) => e);
  runtime.port.hostExit("Native application tried to send a message of 2000000 bytes");
  for (const err of [await a, await b]) {
    assert.equal(err.reason, "host_disconnected");
    assert.match(port.describeError(err), /2000000 bytes/);
  }
  assert.equal(port.pendingCount, 0);
  assert.equal(port.state, "reconnecting");
  // the host keeps dying at once: 100, 200, 400, 800, 1000, 1000 ms
  const delays = [];
  for (let i = 0; i < 6; i += 1) {
    delays.push(clock.pendingDelays().at(-1));
    clock.advance(delays.at(-1));
    runtime.port.hostExit();
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(runtime.ports.length, 7);
  // a host that answers hello resets the backoff
  runtime.mode = "ok";
  clock.advance(1000);
  await waitFor(() => port.state === "connected");
  runtime.port.hostExit();
  assert.equal(clock.pendingDelays().at(-1), 100);
  assert.ok(states.includes("reconnecting") && states.includes("connected"));
});

test("backoff jitter stays within the configured fraction", () => {
  for (const r of [0, 0.25, 0.999]) {
    const clock = new FakeClock();
    const runtime = new FakeRuntime({ mode: "silent" });
    const port = new HostPort({ runtime, clock, random: () => r, logger: silentLogger, backoff: { initialMs: 1000, jitter: 0.2 } });
    port.connect();
    runtime.port.hostExit();
    const delay = clock.timers.size ? [...clock.timers.values()].at(-1).at - clock.now() : null;
    assert.ok(delay >= 800 && delay <= 1200, `delay ${delay}`);
  }
});

test("a call during the backoff wait connects at once", async () => {
  const { runtime, clock, port } = makePort();
  port.connect();
  await waitFor(() => port.state === "connected");
  runtime.port.hostExit();
  assert.equal(port.state, "reconnecting");
  const p = port.call("pair.list", { account: "a" });
  assert.equal(runtime.ports.length, 2);
  const req = runtime.port.lastRequest("pair.list");
  runtime.port.reply(req.id, { pairings: [] });
  assert.deepEqual(await p, { pairings: [] });
  clock.advance(60_000);
  assert.equal(runtime.ports.length, 2, "the cancelled retry timer must not open another port");
});

test("host missing: 'No such native application' becomes host_missing with the install command", async () => {
  const { runtime, clock, port, states } = makePort({ mode: "missing" });
  const err = await port.call("sma.status", { account: "a" }).catch((e) => e);
  assert.equal(err.reason, "host_missing");
  assert.equal(port.state, "host_missing");
  assert.equal(port.status.installCommand, "make venv && .venv/bin/sma-host install --user");
  const text = port.describeError(err);
  assert.ok(text.includes(INSTALL_COMMAND), text);
  // no automatic retries
  clock.advance(600_000);
  assert.equal(runtime.ports.length, 1);
  assert.deepEqual(states, ["connecting", "host_missing"]);
  // the user installs the host and presses "Try again"
  runtime.mode = "ok";
  port.retry();
  await waitFor(() => port.state === "connected");
});

test("isHostMissingError recognises Thunderbird's message only", () => {
  assert.ok(isHostMissingError({ message: "No such native application org_autocrypt_sma_host" }));
  assert.ok(isHostMissingError("No such native application x"));
  assert.ok(!isHostMissingError({ message: "An unexpected error occurred" }));
  assert.ok(!isHostMissingError(null));
});

test("connectNative throwing is a disconnect, not an exception", async () => {
  const { port } = makePort({ mode: "throw", extra: { reconnect: false } });
  const err = await port.call("hello", {}).catch((e) => e);
  assert.equal(err.reason, "host_disconnected");
  assert.equal(port.state, "disconnected");
});

test("postMessage throwing ('Write too big') fails only that call", async () => {
  const { runtime, port } = makePort();
  port.connect();
  await waitFor(() => port.state === "connected");
  runtime.port.throwOnPost = new Error("Write too big");
  const err = await port.call("account.key.set", { account: "a", armored: "x" }).catch((e) => e);
  assert.equal(err.reason, "send_failed");
  assert.match(port.describeError(err), /Write too big/);
  runtime.port.throwOnPost = null;
  assert.equal(port.state, "connected");
  assert.equal(port.pendingCount, 0);
});

test("notifications go to subscribers of their method and to '*'", async () => {
  const { runtime, port } = makePort();
  port.connect();
  await waitFor(() => port.state === "connected");
  const got = [];
  const off = port.on("pair.requested", (params) => got.push(["pair.requested", params]));
  port.on("*", (method, params) => got.push(["*", method, params.account]));
  port.on("sma.changed", () => {
    throw new Error("a broken handler");
  });
  port.on("sma.changed", (p) => got.push(["sma.changed", p.muaas]));
  runtime.port.notify("pair.requested", { account: "a", pairing_id: "0123456789abcdef" });
  runtime.port.notify("sma.changed", { account: "a", muaas: 2 });
  off();
  runtime.port.notify("pair.requested", { account: "b" });
  assert.deepEqual(got, [
    ["pair.requested", { account: "a", pairing_id: "0123456789abcdef" }],
    ["*", "pair.requested", "a"],
    ["sma.changed", 2],
    ["*", "sma.changed", "a"],
    ["*", "pair.requested", "b"],
  ]);
});

test("notifications arriving between a call and its answer do not disturb it", async () => {
  const { runtime, port } = makePort();
  port.connect();
  await waitFor(() => port.state === "connected");
  const seen = [];
  port.on("keys.changed", (p) => seen.push(p.addrs));
  const p = port.call("sma.sync", { account: "a" });
  const id = runtime.port.lastRequest("sma.sync").id;
  runtime.port.notify("keys.changed", { account: "a", addrs: ["x@example.org"] });
  runtime.port.hostSend({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse", data: { reason: "parse_error" } } });
  runtime.port.hostSend("not an object");
  runtime.port.reply(id, { processed: 3, dropped: 0 });
  assert.deepEqual(await p, { processed: 3, dropped: 0 });
  assert.deepEqual(seen, [["x@example.org"]]);
});

test("close() rejects pending calls and never reconnects", async () => {
  const { runtime, clock, port } = makePort({ mode: "silent" });
  const p = port.call("sma.sync", { account: "a" }).catch((e) => e);
  port.close();
  assert.equal((await p).reason, "closed");
  assert.ok(runtime.port.disconnectedByAddon);
  clock.advance(600_000);
  assert.equal(runtime.ports.length, 1);
  assert.equal((await port.call("hello").catch((e) => e)).reason, "closed");
});

test("a host speaking another protocol version is reported as incompatible", async () => {
  const runtime = new FakeRuntime({ mode: "ok", hello: { protocol: 2, version: "9", methods: [] } });
  const { port } = makePort({ runtime });
  port.connect();
  await waitFor(() => port.state === "incompatible");
});

// ---- readable messages for every reason --------------------------------------------

function pythonReasons() {
  const source = readFileSync(path.join(REPO_DIR, "host", "sma_host", "errors.py"), "utf8");
  return [...new Set([...source.matchAll(/^\s+reason(?::[^=]+)? = "([a-z_]+)"/gm)].map((m) => m[1]))].sort();
}

test("HOST_REASONS is exactly errors.py's ALL_REASONS", () => {
  assert.deepEqual([...HOST_REASONS].sort(), pythonReasons());
});

test("every reason, host or local, has its own non-empty localized message", () => {
  const messages = JSON.parse(readFileSync(path.join(EXT_DIR, "_locales", "en", "messages.json"), "utf8"));
  const fallback = describeError(new RpcError({ code: 1, data: { reason: "no_such_reason" } }), getMessage);
  assert.match(fallback, /no_such_reason/);
  for (const reason of [...HOST_REASONS, ...LOCAL_REASONS]) {
    assert.ok(messages[reasonMessageKey(reason)], `messages.json lacks ${reasonMessageKey(reason)}`);
    const err = new RpcError({ code: -32000, message: "raw", data: { reason, host: "mail.example.org", path: "$.imap.port", method: "x.y", size: 2000000, length: 17000000, timeout_ms: 5000, detail: "gone" } });
    const text = describeError(err, getMessage);
    assert.ok(text.trim().length > 10, `${reason}: ${text}`);
    assert.notEqual(text, fallback);
    assert.doesNotMatch(text, /\$\d|\$[A-Z_]+\$/, `unfilled placeholder in ${reason}: ${text}`);
  }
});

test("messages use the error's data: credentials_missing, host, path, method", () => {
  const msg = (reason, data = {}) => describeError(new RpcError({ data: { reason, ...data } }), getMessage);
  assert.equal(msg("unknown_account", { credentials_missing: true }), getMessage("error_unknown_account_credentials_missing"));
  assert.notEqual(msg("unknown_account"), msg("unknown_account", { credentials_missing: true }));
  assert.match(msg("insecure_refused", { host: "imap.example.org" }), /imap\.example\.org/);
  assert.match(msg("invalid_params", { path: "$.imap.port" }), /\$\.imap\.port/);
  assert.match(msg("method_not_found", { method: "pair.frobnicate" }), /pair\.frobnicate/);
});

test("describeError never returns an empty string", () => {
  assert.ok(describeError(new Error("boom"), getMessage).includes("boom"));
  assert.ok(describeError({ code: -1 }, () => "").length > 0);
  assert.ok(describeError(null, null).length > 0);
  assert.ok(describeError(new RpcError({ data: { reason: "auth_failed" } }), () => "").includes("auth_failed"));
});

test("host-port.js is the only caller of connectNative", () => {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (["node_modules", "test", "test-support"].includes(entry.name)) continue;
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(m?js|html)$/.test(entry.name)) files.push(p);
    }
  };
  walk(EXT_DIR);
  const callers = files.filter((f) => /connectNative\s*\(/.test(readFileSync(f, "utf8")));
  assert.deepEqual(callers.map((f) => path.relative(EXT_DIR, f)), ["modules/host-port.js"]);
});
