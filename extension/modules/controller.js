// The add-on's logic between the host client and the UI, without DOM: runs the UI's
// intents as contract calls, keeps the state (state.js reducer), reacts to notifications,
// stores the non-secret settings. It lives in the background page; the options page and
// the popup send it intents and render the state it broadcasts (ui-bridge.js: serveUi
// here, connectUi in the pages).
//
// Dependencies are injected: `host` (a HostPort), `storage` (storage.local-like),
// `accounts` (messenger.accounts-like), `notify` (shows a browser notification),
// `thunderbird` (thunderbird-accounts.js: the Experiment; without it, the manual form),
// `openpgp` (thunderbird-openpgp.js: its OpenPGP half; without it, paste and file).

import { createAccountStore, errorInfo, listMailAccounts } from "./account-store.js";
import { alertForNotification, passwordNeededAlert } from "./alerts.js";
import { OPERATIONS } from "./catalogue.js";
import { createThunderbirdAccounts } from "./thunderbird-accounts.js";
import { createThunderbirdKeys } from "./thunderbird-keys.js";
import { createThunderbirdOpenPGP } from "./thunderbird-openpgp.js";
import { createThunderbirdSetup } from "./thunderbird-setup.js";
import {
  buildConfigureParams,
  buildKeyEntry,
  initialState,
  isValidPairingCode,
  looksLikeArmoredSecretKey,
  normalizePairingCode,
  opKey,
  pairRequestParams,
  reducer,
  validateKeyEntry,
  validateSettings,
} from "./state.js";

export { STORAGE_PREFIX, errorInfo, listMailAccounts } from "./account-store.js";

export function createController({
  host,
  storage,
  accounts,
  notify = () => {},
  thunderbird = createThunderbirdAccounts({}),
  openpgp = createThunderbirdOpenPGP({}),
  deviceName = "",
  logger = console,
  now = () => Date.now(),
}) {
  let state = initialState();
  const listeners = new Set();
  const statusRuns = new Map(); // account → {promise, again}
  const keysRuns = new Map(); // account → {promise, again}
  const { loadAll: loadSaved, save } = createAccountStore(storage);

  function getState() {
    return state;
  }

  function dispatch(action) {
    const next = reducer(state, action);
    if (next === state) return;
    state = next;
    for (const fn of [...listeners]) {
      try {
        fn(state);
      } catch (e) {
        logger.error?.("sma-host: state listener threw", e);
      }
    }
  }

  function subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  }

  async function loadAccounts() {
    try {
      const [list, saved, name] = await Promise.all([
        listMailAccounts(accounts),
        loadSaved(),
        typeof deviceName === "function" ? deviceName() : deviceName,
      ]);
      dispatch({ type: "accounts", accounts: list, saved, deviceName: name });
      await setup.readAll(list.filter((a) => a.type === "imap").map((a) => a.id));
    } catch (e) {
      logger.error?.("sma-host: reading the Thunderbird accounts failed", e);
      dispatch({ type: "accountsError", error: String((e && e.message) || e) });
    }
  }

  /** Run one contract call as a UI operation: pending → success | failure. */
  async function run(account, op, params, { target, successParams, quiet = false } = {}) {
    const a = state.byId[account];
    if (!a) return { ok: false, error: { reason: "unknown_account", text: "", data: {} } };
    if (a.pending[opKey(op, target)]) return { ok: false, busy: true };
    dispatch({ type: "start", account, op, target });
    try {
      const result = await callRecovering(account, op, params);
      dispatch({ type: "success", account, op, target, params: successParams ?? params, result });
      return { ok: true, result };
    } catch (err) {
      const error = errorInfo(err, (e) => host.describeError(e));
      if (!quiet) logger.warn?.(`sma-host: ${OPERATIONS[op]} failed: ${error.reason}`);
      const asked = state.byId[account].needsPassword;
      dispatch({ type: "failure", account, op, target, error });
      if (!asked && state.byId[account].needsPassword) notify(passwordNeededAlert(account, a.settings.email || a.name));
      return { ok: false, error };
    }
  }

  /** One call; when it fails in a way Thunderbird can fix (a token, a restarted host), fixed and tried once more. */
  async function callRecovering(account, op, params) {
    try {
      return await call(op, params);
    } catch (err) {
      if (op === "configure" || op === "token") throw err;
      if (!(await setup.recover(account, errorInfo(err, () => "")))) throw err;
      return call(op, params);
    }
  }

  const getAccount = (id) => state.byId[id];
  const setup = createThunderbirdSetup({ thunderbird, getAccount, dispatch, run, save });
  const keys = createThunderbirdKeys({
    openpgp,
    getAccount,
    dispatch,
    run,
    call: (account, op, params) => callRecovering(account, op, params),
    errorOf: (err) => errorInfo(err, (e) => host.describeError(e)),
    logger,
  });

  /** The list each paged method returns (docs/protocol.md §4.3). */
  const PAGED = Object.freeze({ status: "muaas", keysList: "peers" });

  /** One call; paged answers (sma.status, keys.list) are fetched until the last page. */
  async function call(op, params) {
    const method = OPERATIONS[op];
    const field = PAGED[op];
    if (!field) return host.call(method, params);
    let page = await host.call(method, params);
    const items = [...(page[field] || [])];
    while (page.next_offset) {
      page = await host.call(method, { ...params, offset: page.next_offset });
      items.push(...(page[field] || []));
    }
    const { next_offset: _ignored, ...rest } = page;
    return { ...rest, [field]: items, total: items.length };
  }

  /** Run `op` for `account`, coalescing overlapping runs into one more run. */
  function coalesced(runs, account, op, after) {
    const running = runs.get(account);
    if (running) {
      running.again = true;
      return running.promise;
    }
    const entry = { again: false, promise: null };
    entry.promise = (async () => {
      let result;
      try {
        do {
          entry.again = false;
          result = await run(account, op, { account });
        } while (entry.again);
      } finally {
        runs.delete(account);
      }
      if (result.ok && after) await after(result);
      return result;
    })();
    runs.set(account, entry);
    return entry.promise;
  }

  /** sma.status, coalescing overlapping refreshes into one more run. */
  function refreshStatus(account) {
    return coalesced(statusRuns, account, "status", (result) =>
      save(account, { joined: Boolean(result.result.self && !result.result.removed) }),
    );
  }

  /** keys.list (the whole keyring), coalescing overlapping refreshes; what is new goes to Thunderbird's collected keys. */
  function refreshKeys(account) {
    return coalesced(keysRuns, account, "keysList", (result) => keys.giveCollected(account, result.result.peers));
  }

  async function refresh(account) {
    const status = await refreshStatus(account);
    if (status.ok) {
      await run(account, "pairList", { account });
      await Promise.all([refreshKeys(account), keys.readKeys(account)]);
    }
    return status;
  }

  function onHostStatus(status) {
    const before = state.host.state;
    dispatch({ type: "host", status });
    if (status.state === "connected" && before !== "connected") {
      // A (re)started host: re-read what it knows. An account set up from Thunderbird's
      // settings gets its password or token from Thunderbird again first; with a remembered
      // password the host knows the account, otherwise the UI asks for it (credentials_missing).
      for (const id of state.order) {
        const a = state.byId[id];
        if (a.savedConfigured && a.fromThunderbird) setup.restore(id).then((res) => res.ok && refresh(id));
        else if (a.savedConfigured) refresh(id);
      }
    }
  }

  /** What each notification makes the controller re-read or do (besides the state and the alerts). */
  const FOLLOW_UP = Object.freeze({
    "pair.completed": refreshStatus,
    "device.removed": refreshStatus,
    "sma.changed": refreshStatus,
    "device.paired": refreshStatus,
    "keys.changed": refreshKeys,
    "account_key.changed": (account) => keys.readIdentityKey(account),
    "account.token_needed": (account) => setup.renewToken(account),
  });

  function onNotification(method, params) {
    dispatch({ type: "notification", method, params });
    const account = params && params.account;
    const a = state.byId[account];
    if (!a) return;
    const alert = alertForNotification(method, params, a.settings.email || a.name);
    if (alert) notify(alert);
    if (Object.hasOwn(FOLLOW_UP, method)) FOLLOW_UP[method](account);
  }

  // ---- intents (what the UI asks for) ----------------------------------------------

  const intents = {
    async configure({ account, settings, password }) {
      const fieldErrors = validateSettings(settings, password);
      if (Object.keys(fieldErrors).length) return { ok: false, fieldErrors };
      dispatch({ type: "settings", account, settings });
      const params = buildConfigureParams(account, settings, password);
      const res = await run(account, "configure", params, { successParams: { settings } });
      if (res.ok) {
        await save(account, { settings, configured: true, fromThunderbird: false });
        refresh(account);
      }
      return res;
    },
    async useThunderbird({ account }) {
      const res = await setup.useThunderbird(account);
      if (res.ok) await refresh(account);
      return res;
    },
    refresh: ({ account }) => refresh(account),
    async join({ account }) {
      const res = await run(account, "join", { account });
      if (res.ok) {
        await save(account, { joined: true });
        await refresh(account);
      }
      return res;
    },
    async sync({ account }) {
      const res = await run(account, "sync", { account });
      if (res.ok) await refresh(account);
      return res;
    },
    // `to`: the device the user picked on the pairing card; without it the host asks the devices seen most recently.
    pairRequest: ({ account, to }) => run(account, "pairRequest", pairRequestParams(account, to)),
    pairCancel: ({ account, pairing_id }) => run(account, "pairCancel", { account, pairing_id }, { target: pairing_id }),
    async pairAccept({ account, pairing_id, code }) {
      if (!isValidPairingCode(code)) return { ok: false, fieldErrors: { code: "fieldErrorCode" } };
      return run(account, "pairAccept", { account, pairing_id, code: normalizePairingCode(code) }, { target: pairing_id });
    },
    async keySet({ account, armored }) {
      if (!looksLikeArmoredSecretKey(armored)) return { ok: false, fieldErrors: { armored: "fieldErrorArmored" } };
      return run(account, "keySet", { account, armored });
    },
    async keyGet({ account }) {
      // The manual export (a file): the key only, never its passphrase.
      const res = await run(account, "keyGet", { account }, { successParams: { account } });
      if (!res.ok) return res;
      const { passphrase: _never, ...result } = res.result || {};
      return { ok: true, result };
    },
    keyShare: ({ account }) => keys.share(account),
    keyInstall: ({ account }) => keys.install(account),
    async keysPut({ account, addr, keyText, mutual }) {
      const fieldErrors = validateKeyEntry({ addr, keyText });
      if (Object.keys(fieldErrors).length) return { ok: false, fieldErrors };
      const entry = buildKeyEntry({ addr, keyText, mutual });
      const res = await run(account, "keysPut", { account, peers: [entry] });
      if (res.ok) await refreshKeys(account);
      return res;
    },
    refreshKeys: ({ account }) => refreshKeys(account),
    async remove({ account, muaa_id }) {
      const res = await run(account, "remove", { account, muaa_id }, { target: muaa_id });
      if (res.ok) await refreshStatus(account);
      return res;
    },
    async leave({ account }) {
      const res = await run(account, "leave", { account });
      if (res.ok) {
        await save(account, { joined: false });
        await refreshStatus(account);
      }
      return res;
    },
    async retryHost() {
      host.retry();
      return { ok: true };
    },
    async reloadAccounts() {
      await loadAccounts();
      return { ok: true };
    },
    async dismiss({ account, key }) {
      dispatch({ type: "dismiss", account, key });
      return { ok: true };
    },
  };

  async function handleIntent(intent) {
    const fn = intent && intents[intent.op];
    if (!fn) return { ok: false, error: { reason: "unknown_intent", text: String(intent && intent.op), data: {} } };
    return fn(intent);
  }

  async function start() {
    host.onStateChange(onHostStatus);
    host.on("*", onNotification);
    dispatch({ type: "host", status: host.status });
    await loadAccounts();
    host.connect();
  }

  /** `ui.active` for every account configured with the running host: a page is open, so
   * the host may poll fast during a pairing (docs/protocol.md §11). */
  function uiActive() {
    for (const [account, a] of Object.entries(state.byId || {})) {
      if (a.configured) host.notify?.("ui.active", { account });
    }
  }

  /** Thunderbird reported new mail in `account` (messages.onNewMailReceived): mail.scan; what it changed is re-read. */
  async function newMail(account) {
    const res = await keys.scanMail(account);
    if (res.ok && res.result.updated && res.result.updated.length) await refreshKeys(account);
    return res;
  }

  return { start, getState, subscribe, handleIntent, intents, dispatch, refresh, refreshKeys, loadAccounts, newMail, uiActive };
}
