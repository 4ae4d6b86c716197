// Small fakes of the WebExtension APIs the add-on uses, for node --test.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const EXT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = path.resolve(EXT_DIR, "..");

export class FakeEvent {
  constructor() {
    this.listeners = new Set();
  }
  addListener(fn) {
    this.listeners.add(fn);
  }
  removeListener(fn) {
    this.listeners.delete(fn);
  }
  hasListener(fn) {
    return this.listeners.has(fn);
  }
  fire(...args) {
    for (const fn of [...this.listeners]) fn(...args);
  }
}

/** The add-on's end of a native port; the test plays the host through it. */
export class FakeNativePort {
  constructor(name) {
    this.name = name;
    this.onMessage = new FakeEvent();
    this.onDisconnect = new FakeEvent();
    this.sent = [];
    this.error = null;
    this.connected = true;
    this.throwOnPost = null;
  }
  postMessage(message) {
    if (!this.connected) throw new Error("Attempt to postMessage on disconnected port");
    if (this.throwOnPost) throw this.throwOnPost;
    // Like the browser, the message is copied (structured clone).
    this.sent.push(structuredClone(message));
    this.onSent?.(this.sent.at(-1));
  }
  disconnect() {
    this.connected = false;
    this.disconnectedByAddon = true;
  }
  // ---- host side ----
  hostSend(message) {
    if (this.connected) this.onMessage.fire(structuredClone(message));
  }
  reply(id, result) {
    this.hostSend({ jsonrpc: "2.0", id, result });
  }
  replyError(id, code, reason, extra = {}, message = reason) {
    this.hostSend({ jsonrpc: "2.0", id, error: { code, message, data: { reason, ...extra } } });
  }
  notify(method, params) {
    this.hostSend({ jsonrpc: "2.0", method, params });
  }
  hostExit(errorMessage = null) {
    if (!this.connected) return;
    this.connected = false;
    this.error = errorMessage ? { message: errorMessage } : null;
    this.onDisconnect.fire(this);
  }
  lastRequest(method) {
    return [...this.sent].reverse().find((m) => m.method === method);
  }
}

/**
 * runtime.connectNative fake. `mode`: "ok" (a host that answers hello by itself),
 * "silent" (a host that answers nothing unless the test does), "missing" (Thunderbird's
 * "No such native application" disconnect), "throw" (connectNative throws).
 */
export class FakeRuntime {
  constructor({ mode = "ok", hello = { protocol: 1, version: "0.1.0", methods: [], reasons: [] } } = {}) {
    this.mode = mode;
    this.hello = hello;
    this.ports = [];
    this.lastError = null;
    this.onConnect = new FakeEvent();
  }
  get port() {
    return this.ports.at(-1);
  }
  connectNative(name) {
    if (this.mode === "throw") throw new Error("connectNative is not available");
    const port = new FakeNativePort(name);
    this.ports.push(port);
    if (this.mode === "missing") {
      queueMicrotask(() => port.hostExit(`No such native application ${name}`));
    } else if (this.mode === "ok") {
      port.onSent = (m) => {
        if (m.method === "hello") queueMicrotask(() => port.reply(m.id, this.hello));
      };
    }
    return port;
  }
}

/** A host simulator on a FakeRuntime: answers by method from `handlers`. */
export class FakeHost {
  constructor(handlers = {}, { hello } = {}) {
    this.handlers = {
      hello: () => hello ?? { protocol: 1, version: "0.1.0-test", methods: [], reasons: [] },
      ...handlers,
    };
    this.calls = [];
    this.runtime = new FakeRuntime({ mode: "silent" });
    const connect = this.runtime.connectNative.bind(this.runtime);
    this.runtime.connectNative = (name) => {
      const port = connect(name);
      port.onSent = (m) => this._serve(port, m);
      return port;
    };
  }
  get port() {
    return this.runtime.port;
  }
  _serve(port, m) {
    this.calls.push({ method: m.method, params: m.params });
    const handler = this.handlers[m.method];
    queueMicrotask(async () => {
      if (!handler) {
        port.replyError(m.id, -32601, "method_not_found", { method: m.method });
        return;
      }
      try {
        const result = await handler(m.params, this);
        port.reply(m.id, result);
      } catch (e) {
        if (e && e.code) port.replyError(m.id, e.code, e.reason, e.data || {}, e.message);
        else port.replyError(m.id, -32000, "internal_error");
      }
    });
  }
  notify(method, params) {
    this.port.notify(method, params);
  }
  methods() {
    return this.calls.map((c) => c.method);
  }
}

export function hostError(code, reason, data = {}) {
  return { code, reason, data, message: reason };
}

/** A manual clock: timers run only when the test advances time. */
export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.time = start;
    this.timers = new Map();
    this.nextHandle = 1;
  }
  now() {
    return this.time;
  }
  setTimeout(fn, ms) {
    const handle = this.nextHandle++;
    this.timers.set(handle, { at: this.time + Math.max(0, ms), fn });
    return handle;
  }
  clearTimeout(handle) {
    this.timers.delete(handle);
  }
  /** Delays of the timers now pending, relative to now. */
  pendingDelays() {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [handle, t] of this.timers) {
        if (t.at <= end && (!next || t.at < next[1].at)) next = [handle, t];
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = end;
  }
}

export function loadMessages(locale = "en") {
  return JSON.parse(readFileSync(path.join(EXT_DIR, "_locales", locale, "messages.json"), "utf8"));
}

/** i18n.getMessage as Firefox implements it: named placeholders, then $1…$9, $$ → $. "" when missing. */
export function makeGetMessage(messages = loadMessages()) {
  return (key, subs = []) => {
    const entry = messages[key];
    if (!entry) return "";
    const list = Array.isArray(subs) ? subs : subs === undefined ? [] : [subs];
    let text = entry.message;
    if (entry.placeholders) {
      text = text.replace(/\$([A-Za-z0-9_@]+)\$/g, (m, name) => {
        const ph = entry.placeholders[name.toLowerCase()];
        return ph ? ph.content : m;
      });
    }
    return text.replace(/\$(?:([1-9]\d*)|(\$+))/g, (m, index, dollars) => {
      if (dollars) return dollars.slice(1);
      const value = list[Number(index) - 1];
      return value === undefined ? "" : String(value);
    });
  };
}

export class FakeStorageArea {
  constructor(initial = {}) {
    this.data = structuredClone(initial);
  }
  async get(keys) {
    if (keys === null || keys === undefined) return structuredClone(this.data);
    const list = Array.isArray(keys) ? keys : [keys];
    const out = {};
    for (const k of list) if (k in this.data) out[k] = structuredClone(this.data[k]);
    return out;
  }
  async set(items) {
    Object.assign(this.data, structuredClone(items));
  }
}

export function fakeAccounts(list) {
  return { list: async () => structuredClone(list) };
}

/**
 * Wait until `predicate()` (synchronous) returns a truthy value, and return it. A predicate
 * that throws (an `assert`) counts as not yet true. Polls on every turn of the event loop,
 * then every 5 ms; after `timeout` ms fails with `message` (or the predicate's source) and
 * the predicate's last error.
 */
export async function waitFor(predicate, { timeout = 10_000, message = "" } = {}) {
  const deadline = Date.now() + timeout;
  for (let turn = 0; ; turn += 1) {
    let last;
    try {
      const value = predicate();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const what = message || String(predicate);
      const why = last ? `; last: ${last.message}` : "";
      throw new Error(`waitFor: still not true after ${timeout} ms: ${what}${why}`, { cause: last });
    }
    await new Promise((r) => (turn < 200 ? setImmediate(r) : setTimeout(r, 5)));
  }
}

/** `waitFor` a block of assertions: done once `check()` runs without throwing. */
export function eventually(check, { message = "the assertions to hold", ...options } = {}) {
  return waitFor(
    () => {
      check();
      return true;
    },
    { message, ...options },
  );
}

export const silentLogger = { error() {}, warn() {}, info() {}, log() {} };

/** Two linked runtime.Port fakes, delivering asynchronously like the browser. */
export function portPair(name) {
  const make = () => ({ name, onMessage: new FakeEvent(), onDisconnect: new FakeEvent(), other: null, open: true });
  const a = make();
  const b = make();
  a.other = b;
  b.other = a;
  for (const p of [a, b]) {
    p.postMessage = (m) => {
      if (!p.open) throw new Error("disconnected");
      const copy = structuredClone(m);
      queueMicrotask(() => p.other.open && p.other.onMessage.fire(copy));
    };
    p.disconnect = () => {
      p.open = false;
      p.other.open = false;
      queueMicrotask(() => p.other.onDisconnect.fire(p.other));
    };
  }
  return [a, b];
}

export function linkedRuntimes() {
  const background = { onConnect: new FakeEvent() };
  const page = {
    connect({ name }) {
      const [uiEnd, bgEnd] = portPair(name);
      // The last state the page got (before the page's own listener sees it), for settled().
      uiEnd.onMessage.addListener((m) => m?.type === "state" && (page.lastState = m.state));
      queueMicrotask(() => background.onConnect.fire(bgEnd));
      page.last = { uiEnd, bgEnd };
      return uiEnd;
    },
  };
  return { background, page };
}

/**
 * Wait until nothing is in flight: `host` (a HostPort) has no call pending (`pending`: the
 * calls a test holds unanswered on purpose) and `page` (from linkedRuntimes) got
 * `controller`'s current state. The fakes deliver with microtasks only,
 * so between two polls a whole chain of calls, state changes and renders has run; the first
 * poll comes after one turn of the event loop, once what the caller started is under way.
 */
export async function settled(host, page, controller, { pending = 0, ...options } = {}) {
  const current = () => JSON.stringify(page.lastState) === JSON.stringify(controller.getState());
  // What the caller just did (a click, a notification) starts in queued microtasks: let it start.
  await new Promise((r) => setImmediate(r));
  return waitFor(() => host.pendingCount === pending && page.lastState !== undefined && current(), {
    message: "settled: no call pending and the page got the current state",
    ...options,
  });
}

/**
 * messenger.smaThunderbird as the Experiment answers, for createThunderbirdAccounts(): per
 * account id its IMAP settings, saved password and OAuth2 tokens (handed out in turn). An
 * Error instance in place of a value is thrown, as the Experiment throws ExtensionErrors.
 * `calls` records which function was asked for which account.
 */
export function fakeExperiment(accounts = {}) {
  const calls = [];
  const answer = (name, pick) => async (accountId) => {
    calls.push({ name, accountId });
    const account = accounts[accountId];
    if (!account) throw new Error(`no_account: no account ${accountId}`);
    const value = pick(account);
    if (value instanceof Error) throw value;
    return structuredClone(value);
  };
  return {
    calls,
    smaThunderbird: {
      getImapSettings: answer("getImapSettings", (a) => a.settings),
      getPassword: answer("getPassword", (a) => a.password ?? null),
      getAccessToken: answer("getAccessToken", (a) => (Array.isArray(a.tokens) ? a.tokens.shift() : a.tokens)),
    },
  };
}

/**
 * messenger.smaThunderbird's OpenPGP functions as the Experiment answers, for
 * createThunderbirdOpenPGP(): per account id `identityKey` ({fingerprint, userId, created}
 * or null), `export` ({armored, passphrase}) and what installing does (`install`: a
 * fingerprint, or an Error to throw). An Error instance in place of a value is thrown.
 * `calls` records each call (secrets replaced by their length), `installed` what
 * installAccountKey got, `collected` every addCollectedKeys batch.
 */
export function fakeOpenPGP(accounts = {}) {
  const calls = [];
  const installed = [];
  const collected = [];
  const account = (id) => {
    const a = accounts[id];
    if (!a) throw new Error(`no_account: no account ${id}`);
    return a;
  };
  const value = (v) => {
    if (v instanceof Error) throw v;
    return structuredClone(v);
  };
  return {
    calls,
    installed,
    collected,
    smaThunderbird: {
      async getIdentityKey(id) {
        calls.push({ name: "getIdentityKey", accountId: id });
        return value(account(id).identityKey ?? null);
      },
      async exportIdentityKey(id) {
        calls.push({ name: "exportIdentityKey", accountId: id });
        return value(account(id).export);
      },
      async installAccountKey(id, armored, passphrase) {
        calls.push({ name: "installAccountKey", accountId: id });
        const a = account(id);
        const fingerprint = value(a.install);
        installed.push({ accountId: id, armored, passphrase });
        const alreadyPresent = Boolean(a.identityKey && a.identityKey.fingerprint === fingerprint);
        a.identityKey = { fingerprint, userId: "Alice <alice@example.org>", created: "2020-09-13T12:26:40.000Z" };
        return { fingerprint, alreadyPresent };
      },
      async addCollectedKeys(keys) {
        calls.push({ name: "addCollectedKeys", count: keys.length });
        if (accounts.collectError) throw accounts.collectError;
        collected.push(structuredClone(keys));
        return keys.length;
      },
    },
  };
}
