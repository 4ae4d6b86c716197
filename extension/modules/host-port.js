// The only module that calls runtime.connectNative: a JSON-RPC 2.0 client for sma-host
// over Thunderbird's native messaging (docs/protocol.md §3–§5).
//
// Everything it needs from the browser comes in by injection (`runtime`, `getMessage`,
// `clock`), so the Node tests drive it with fakes.

/** The native host's name: the connectNative argument and the manifest's file name. */
export const HOST_NAME = "org_autocrypt_sma_host";

/** The command that registers the host with Thunderbird (shown when the host is missing). */
/**
 * The one line that installs and registers the host, as the README and the help page show
 * it: run in the sma-host source folder, it makes .venv with the host in it (make venv)
 * and registers that executable, by its real path, with Thunderbird.
 */
export const INSTALL_COMMAND = "make venv && .venv/bin/sma-host install --user";
/** The installation check, from the same folder. */
export const DOCTOR_COMMAND = ".venv/bin/sma-host doctor";

/** Every `data.reason` the host can send (host/sma_host/errors.py ALL_REASONS). */
export const HOST_REASONS = Object.freeze([
  "auth_failed",
  "connection_failed",
  "frame_too_large",
  "insecure_refused",
  "internal_error",
  "invalid_key",
  "invalid_params",
  "invalid_request",
  "method_not_found",
  "not_found",
  "not_joined",
  "pairing_expired",
  "pairing_failed",
  "parse_error",
  "result_too_large",
  "server_error",
  "storage_failed",
  "tls_failed",
  "token_expired",
  "unknown_account",
]);

/** Reasons this client produces itself (the host never sends them). */
export const LOCAL_REASONS = Object.freeze([
  "host_missing", // "No such native application …": the host manifest is not installed
  "host_disconnected", // the host exited or closed the port while the call was pending
  "timeout", // no answer within the call's time limit
  "send_failed", // postMessage threw (e.g. "Write too big")
  "incompatible_host", // hello answered another protocol version
  "closed", // the client was closed on purpose
]);

/** JSON-RPC error codes used for local errors (outside the host's range). */
const LOCAL_CODE = -32099;

/** Protocol version this add-on speaks (hello → protocol). */
export const PROTOCOL_VERSION = 1;

/** Per-method time limits in ms. IMAP calls can take a 5 s connect + 60 s read, queued per account. */
export const DEFAULT_TIMEOUTS = Object.freeze({
  hello: 10_000,
  "account.key.get": 30_000,
  "account.key.set": 30_000,
  "pair.list": 30_000,
  "keys.list": 30_000,
});
export const DEFAULT_TIMEOUT_MS = 150_000;

export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.2 });

const HOST_MISSING_RE = /No such native application/i;

/** The message key of a reason in _locales/<lang>/messages.json. */
export function reasonMessageKey(reason) {
  return `error_${reason}`;
}

/** Is this disconnect/connect error Thunderbird's generic "host not installed" error? */
export function isHostMissingError(error) {
  const message = typeof error === "string" ? error : error && error.message;
  return typeof message === "string" && HOST_MISSING_RE.test(message);
}

/** A failed call: a host error reply, or a local failure (see LOCAL_REASONS). */
export class RpcError extends Error {
  constructor({ code = LOCAL_CODE, message = "", data = {}, method = null } = {}) {
    super(message || (data && data.reason) || "error");
    this.name = "RpcError";
    this.code = code;
    this.data = data && typeof data === "object" ? data : {};
    this.method = method;
  }

  get reason() {
    return typeof this.data.reason === "string" ? this.data.reason : "unknown";
  }

  get local() {
    return LOCAL_REASONS.includes(this.reason);
  }
}

function localError(reason, message, extra = {}) {
  return new RpcError({ code: LOCAL_CODE, message, data: { reason, ...extra } });
}

/**
 * A readable, localized sentence for an error (RpcError, a JSON-RPC error object, or
 * anything thrown). Never empty: falls back to a generic sentence naming the reason.
 */
export function describeError(error, getMessage) {
  const get = (key, subs) => {
    try {
      return (getMessage && getMessage(key, subs)) || "";
    } catch {
      return "";
    }
  };
  const data = (error && typeof error.data === "object" && error.data) || {};
  const reason = typeof data.reason === "string" ? data.reason : null;
  let text = "";
  if (reason) {
    let key = reasonMessageKey(reason);
    let subs = [];
    switch (reason) {
      case "unknown_account":
        if (data.credentials_missing) key = "error_unknown_account_credentials_missing";
        break;
      case "insecure_refused":
        subs = [String(data.host ?? "")];
        break;
      case "invalid_params":
        subs = [String(data.path ?? "$")];
        break;
      case "invalid_key":
        // The host's message says what was wrong with the key (it never quotes the key).
        subs = [String((error && error.message) || "")];
        break;
      case "method_not_found":
        subs = [String(data.method ?? (error && error.method) ?? "")];
        break;
      case "result_too_large":
        subs = [String(data.size ?? "")];
        break;
      case "frame_too_large":
        subs = [String(data.length ?? "")];
        break;
      case "host_missing":
        subs = [INSTALL_COMMAND];
        break;
      case "timeout":
        subs = [String(Math.round((data.timeout_ms ?? 0) / 1000))];
        break;
      case "host_disconnected":
      case "send_failed":
        subs = [String(data.detail ?? "")];
        break;
      default:
        break;
    }
    text = get(key, subs);
  }
  if (!text) {
    const code = error && error.code !== undefined ? String(error.code) : "";
    const fallbackReason = reason || (error && error.message) || String(error);
    text = get("error_unknown", [fallbackReason, code]) || `${fallbackReason} (${code})`;
  }
  return text;
}

const realClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
  now: () => Date.now(),
};

/**
 * JSON-RPC 2.0 client over one native port, reconnecting with exponential backoff.
 *
 * States: "idle" (never connected), "connecting" (port open, hello pending), "connected"
 * (hello answered), "reconnecting" (waiting for the backoff timer), "host_missing" (the
 * host is not installed: no automatic retry; any call or retry() tries again), "closed".
 */
export class HostPort {
  constructor({
    runtime,
    hostName = HOST_NAME,
    getMessage = null,
    clock = realClock,
    random = Math.random,
    timeouts = {},
    defaultTimeoutMs = DEFAULT_TIMEOUT_MS,
    backoff = {},
    reconnect = true,
    logger = console,
  } = {}) {
    if (!runtime || typeof runtime.connectNative !== "function") {
      throw new TypeError("HostPort needs a runtime with connectNative");
    }
    this._runtime = runtime;
    this._hostName = hostName;
    this._getMessage = getMessage;
    this._clock = clock;
    this._random = random;
    this._timeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
    this._defaultTimeoutMs = defaultTimeoutMs;
    this._backoff = { ...DEFAULT_BACKOFF, ...backoff };
    this._reconnect = reconnect;
    this._logger = logger;

    this._port = null;
    this._nextId = 1;
    this._pending = new Map(); // id → {resolve, reject, timer, method}
    this._handlers = new Map(); // method → Set<fn>; "*" gets (method, params)
    this._stateHandlers = new Set();
    this._state = "idle";
    this._detail = null;
    this._hello = null;
    this._attempt = 0; // failed connection attempts since the last good hello
    this._retryTimer = null;
    this._nextAttemptAt = null;
  }

  get state() {
    return this._state;
  }

  /** The last hello result ({protocol, version, methods, reasons}) or null. */
  get hello() {
    return this._hello;
  }

  get pendingCount() {
    return this._pending.size;
  }

  /** A snapshot for the UI. */
  get status() {
    return {
      state: this._state,
      detail: this._detail,
      version: this._hello ? this._hello.version : null,
      protocol: this._hello ? this._hello.protocol : null,
      attempt: this._attempt,
      nextAttemptAt: this._nextAttemptAt,
      installCommand: INSTALL_COMMAND,
    };
  }

  /** Subscribe to a notification method, or "*" for all (called with method, params). */
  on(method, handler) {
    if (!this._handlers.has(method)) this._handlers.set(method, new Set());
    this._handlers.get(method).add(handler);
    return () => this._handlers.get(method)?.delete(handler);
  }

  /** Subscribe to state changes; the handler gets `status`. */
  onStateChange(handler) {
    this._stateHandlers.add(handler);
    return () => this._stateHandlers.delete(handler);
  }

  /** Open the port now unless it is open. */
  connect() {
    if (this._port) return;
    this._cancelRetry();
    this._open();
  }

  /** Try again now (after host_missing, or to skip the backoff wait). */
  retry() {
    if (this._state === "closed") this._state = "idle";
    this.connect();
  }

  /** Close on purpose: pending calls fail with reason "closed", no reconnect. */
  close() {
    this._cancelRetry();
    const port = this._port;
    this._port = null;
    this._failPending(() => localError("closed", "closed"));
    this._setState("closed", null);
    if (port) {
      try {
        port.disconnect();
      } catch (e) {
        this._logger.warn?.("sma-host: disconnect failed", e);
      }
    }
  }

  describeError(error) {
    return describeError(error, this._getMessage);
  }

  /** Call a method; resolves to its result or rejects with an RpcError. */
  call(method, params = {}, { timeoutMs } = {}) {
    if (this._state === "closed") {
      return Promise.reject(localError("closed", "closed"));
    }
    if (!this._port) this.connect();
    if (!this._port) {
      // connectNative threw: _open already set the state
      const reason = this._state === "host_missing" ? "host_missing" : "host_disconnected";
      return Promise.reject(localError(reason, this._detail || reason, { detail: this._detail }));
    }
    return this._request(method, params, timeoutMs);
  }

  /** Send a JSON-RPC notification (no id, no answer) when the port is open; false if not. */
  notify(method, params = {}) {
    if (!this._port || this._state === "closed") return false;
    try {
      this._port.postMessage({ jsonrpc: "2.0", method, params });
      return true;
    } catch (e) {
      return false;
    }
  }

  // ---- internals -------------------------------------------------------------------

  _request(method, params, timeoutMs) {
    const id = this._nextId++;
    const limit = timeoutMs ?? this._timeouts[method] ?? this._defaultTimeoutMs;
    const port = this._port;
    return new Promise((resolve, reject) => {
      const timer = this._clock.setTimeout(() => {
        if (this._pending.delete(id)) {
          reject(localError("timeout", `${method} timed out`, { timeout_ms: limit, method }));
        }
      }, limit);
      this._pending.set(id, { resolve, reject, timer, method });
      try {
        port.postMessage({ jsonrpc: "2.0", id, method, params });
      } catch (e) {
        this._clock.clearTimeout(timer);
        this._pending.delete(id);
        const detail = (e && e.message) || String(e);
        reject(localError("send_failed", detail, { detail }));
      }
    });
  }

  _open() {
    this._setState("connecting", null);
    let port;
    try {
      port = this._runtime.connectNative(this._hostName);
    } catch (e) {
      this._handleGone(null, e);
      return;
    }
    this._port = port;
    port.onMessage.addListener((message) => this._onMessage(port, message));
    port.onDisconnect.addListener((p) => {
      const error = (p && p.error) || this._runtime.lastError || null;
      this._onDisconnect(port, error);
    });
    this._request("hello", {}, undefined).then(
      (result) => {
        if (this._port !== port) return;
        this._hello = result;
        this._attempt = 0;
        if (!result || result.protocol !== PROTOCOL_VERSION) {
          this._setState("incompatible", `protocol ${result && result.protocol}`);
          return;
        }
        this._setState("connected", null);
      },
      (error) => {
        // A disconnect is handled by _onDisconnect; anything else is logged and kept.
        if (this._port === port && error.reason !== "host_disconnected" && error.reason !== "host_missing") {
          this._logger.error?.("sma-host: hello failed", error);
          this._setState("connecting", this.describeError(error));
        }
      },
    );
  }

  _onMessage(port, message) {
    if (port !== this._port) return;
    if (!message || typeof message !== "object" || Array.isArray(message)) {
      this._logger.error?.("sma-host: ignored a message that is not an object");
      return;
    }
    const hasId = Object.prototype.hasOwnProperty.call(message, "id");
    if (hasId && ("result" in message || "error" in message)) {
      if (message.id === null) {
        // The host could not tell which request this answers (parse errors).
        this._logger.error?.("sma-host: error without id", message.error);
        return;
      }
      const entry = this._pending.get(message.id);
      if (!entry) {
        this._logger.warn?.(`sma-host: answer for unknown or timed-out id ${message.id}`);
        return;
      }
      this._pending.delete(message.id);
      this._clock.clearTimeout(entry.timer);
      if ("error" in message && message.error) {
        const e = message.error;
        entry.reject(new RpcError({ code: e.code, message: e.message, data: e.data, method: entry.method }));
      } else {
        entry.resolve(message.result);
      }
      return;
    }
    if (!hasId && typeof message.method === "string") {
      this._dispatch(message.method, message.params ?? {});
      return;
    }
    this._logger.warn?.("sma-host: ignored an unexpected message");
  }

  _dispatch(method, params) {
    const run = (fn, args) => {
      try {
        fn(...args);
      } catch (e) {
        this._logger.error?.(`sma-host: handler for ${method} threw`, e);
      }
    };
    for (const fn of [...(this._handlers.get(method) ?? [])]) run(fn, [params, method]);
    for (const fn of [...(this._handlers.get("*") ?? [])]) run(fn, [method, params]);
  }

  _onDisconnect(port, error) {
    if (port !== this._port) return;
    this._handleGone(port, error);
  }

  _handleGone(port, error) {
    this._port = null;
    const detail = error ? (error.message || String(error)) : "";
    const missing = isHostMissingError(detail);
    const reason = missing ? "host_missing" : "host_disconnected";
    this._failPending(() => localError(reason, detail || reason, { detail }));
    this._hello = null;
    if (missing) {
      this._setState("host_missing", detail);
      return;
    }
    if (!this._reconnect) {
      this._setState("disconnected", detail);
      return;
    }
    this._scheduleRetry(detail);
  }

  _scheduleRetry(detail) {
    const { initialMs, factor, maxMs, jitter } = this._backoff;
    const base = Math.min(maxMs, initialMs * factor ** this._attempt);
    const delay = Math.round(base * (1 + jitter * (this._random() * 2 - 1)));
    this._attempt += 1;
    this._nextAttemptAt = this._clock.now() + delay;
    this._retryTimer = this._clock.setTimeout(() => {
      this._retryTimer = null;
      this._nextAttemptAt = null;
      if (!this._port && this._state !== "closed") this._open();
    }, delay);
    this._setState("reconnecting", detail);
  }

  _cancelRetry() {
    if (this._retryTimer !== null) {
      this._clock.clearTimeout(this._retryTimer);
      this._retryTimer = null;
      this._nextAttemptAt = null;
    }
  }

  _failPending(makeError) {
    const entries = [...this._pending.values()];
    this._pending.clear();
    for (const entry of entries) {
      this._clock.clearTimeout(entry.timer);
      const err = makeError();
      err.method = entry.method;
      entry.reject(err);
    }
  }

  _setState(state, detail) {
    this._state = state;
    this._detail = detail || null;
    const status = this.status;
    for (const fn of [...this._stateHandlers]) {
      try {
        fn(status);
      } catch (e) {
        this._logger.error?.("sma-host: state handler threw", e);
      }
    }
  }
}
