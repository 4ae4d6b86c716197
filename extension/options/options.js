// The settings page: renders the state the background broadcasts and sends it intents.
// DOM only; the logic is in modules/controller.js and modules/state.js.

import { localize, t } from "../modules/i18n.js";
import { connectUi } from "../modules/ui-bridge.js";
import {
  DEFAULT_PORTS,
  anyTargetStatus,
  devicesOf,
  formatCountdown,
  guessImapSettings,
  hostStatusMessage,
  incomingMessage,
  incomingPairings,
  isJoined,
  isPending,
  keyFileName,
  keyringRows,
  lastSeenText,
  opStatus,
  outgoingMessage,
  secondsLeft,
  smaHint,
} from "../modules/state.js";

const api = globalThis.messenger ?? globalThis.browser;
const getMessage = (key, subs) => api.i18n.getMessage(key, subs);
const msg = (key, subs) => t(getMessage, key, subs);

let state = null;
let client = null;
const views = new Map(); // account id → view
let viewCounter = 0;

// ---- small DOM helpers -------------------------------------------------------------

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function show(el, visible) {
  if (el && el.hidden === visible) el.hidden = !visible;
}

function q(root, selector) {
  return root.querySelector(selector);
}

/** status: {kind: none|pending|notice|error|failed, text?} or {kind, key, subs}. */
function renderStatus(el, status) {
  if (!el) return;
  let text = "";
  if (status.text) text = status.text;
  else if (status.key) text = msg(status.key, status.subs);
  else if (status.kind === "error") text = msg("error_unknown", [status.reason || "", ""]);
  setText(el, text);
  el.dataset.kind = status.kind;
}

/** Give every field, label, hint and error in `root` ids under `prefix`, and link them. */
function wireIds(root, prefix) {
  for (const field of root.querySelectorAll("[data-field]")) field.id = `${prefix}-${field.dataset.field}`;
  for (const label of root.querySelectorAll("label[data-for]")) label.htmlFor = `${prefix}-${label.dataset.for}`;
  for (const hint of root.querySelectorAll("[data-hint]")) hint.id = `${prefix}-${hint.dataset.hint}`;
  for (const err of root.querySelectorAll("[data-error-for]")) err.id = `${prefix}-${err.dataset.errorFor}-error`;
  for (const field of root.querySelectorAll("[data-field]")) {
    const ids = [];
    if (field.dataset.describe) ids.push(`${prefix}-${field.dataset.describe}`);
    if (root.querySelector(`[data-error-for="${field.dataset.field}"]`)) ids.push(`${prefix}-${field.dataset.field}-error`);
    if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
  }
}

/** Show field errors ({field: messageKey}); focus the first invalid field. */
function showFieldErrors(root, errors) {
  let first = null;
  for (const el of root.querySelectorAll("[data-error-for]")) {
    const field = el.dataset.errorFor;
    const input = root.querySelector(`[data-field="${field}"]`);
    const key = errors && errors[field];
    setText(el, key ? msg(key) : "");
    if (input) {
      if (key) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      if (key && !first) first = input;
    }
  }
  if (first) first.focus();
  return Boolean(first);
}

function busyGuard(button) {
  return button.getAttribute("aria-disabled") === "true";
}

function errorTextOf(reply) {
  const e = reply && reply.error;
  if (!e) return "";
  return e.text || msg(`error_${e.reason}`) || msg("error_unknown", [String(e.reason), ""]);
}

async function send(intent) {
  const reply = await client.send(intent);
  if (!reply.ok && reply.error && (reply.error.reason === "ui_disconnected" || reply.error.reason === "unknown_intent")) {
    setText(document.getElementById("accounts-status"), errorTextOf(reply));
  }
  return reply;
}

// ---- one account -------------------------------------------------------------------

function buildView(account) {
  const prefix = `a${++viewCounter}`;
  const root = document.getElementById("account-template").content.firstElementChild.cloneNode(true);
  wireIds(root, prefix);
  localize(root, getMessage);
  const title = q(root, "[data-role=title]");
  title.id = `${prefix}-title`;
  root.setAttribute("aria-labelledby", title.id);

  const view = {
    id: account.id,
    root,
    prefix,
    rows: new Map(), // muaa_id → tr
    incoming: new Map(), // pairing_id → li
    confirmRemove: null, // muaa_id awaiting confirmation
    dismissedOutgoing: null,
    downloadUrl: null,
  };
  fillForm(view, account);
  bindView(view);
  return view;
}

function fillForm(view, account) {
  const form = q(view.root, "[data-role=imap-form]");
  const s = account.settings;
  const field = (name) => q(form, `[data-field="${name}"]`);
  field("email").value = s.email || "";
  field("deviceName").value = s.deviceName || "";
  field("host").value = s.host || "";
  field("port").value = String(s.port || DEFAULT_PORTS.tls);
  field("security").value = s.security || "tls";
  field("username").value = s.username || "";
  field("remember").checked = Boolean(s.remember);
  if (account.emails.length > 1) {
    const list = document.createElement("datalist");
    list.id = `${view.prefix}-emails`;
    for (const email of account.emails) {
      const option = document.createElement("option");
      option.value = email;
      list.append(option);
    }
    form.append(list);
    field("email").setAttribute("list", list.id);
  }
}

function readSettings(form) {
  const field = (name) => q(form, `[data-field="${name}"]`);
  return {
    email: field("email").value.trim(),
    deviceName: field("deviceName").value.trim(),
    host: field("host").value.trim(),
    port: Number(field("port").value),
    security: field("security").value,
    username: field("username").value,
    remember: field("remember").checked,
  };
}

function bindView(view) {
  const { root, id } = view;
  const form = q(root, "[data-role=imap-form]");
  const field = (name) => q(form, `[data-field="${name}"]`);

  for (const name of ["host", "username"]) {
    field(name).addEventListener("input", () => {
      field(name).dataset.touched = "true";
    });
  }
  field("email").addEventListener("change", () => {
    const guess = guessImapSettings(field("email").value.trim());
    if (!field("host").dataset.touched) field("host").value = guess.host;
    if (!field("username").dataset.touched) field("username").value = guess.username;
  });
  let lastSecurity = field("security").value;
  field("security").addEventListener("change", () => {
    const port = Number(field("port").value);
    if (!port || port === DEFAULT_PORTS[lastSecurity]) field("port").value = String(DEFAULT_PORTS[field("security").value]);
    lastSecurity = field("security").value;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = q(form, "button[type=submit]");
    if (busyGuard(button)) return;
    const password = field("password").value;
    const reply = await send({ op: "configure", account: id, settings: readSettings(form), password });
    if (reply.fieldErrors) {
      showFieldErrors(form, reply.fieldErrors);
      return;
    }
    showFieldErrors(form, {});
    if (reply.ok) field("password").value = "";
  });

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !root.contains(button) || busyGuard(button)) return;
    onAction(view, button.dataset.action, button);
  });

  const keyForm = q(root, "[data-role=key-form]");
  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = q(keyForm, "button[type=submit]");
    if (busyGuard(button)) return;
    const textarea = q(keyForm, '[data-field="armored"]');
    const file = q(keyForm, '[data-field="keyFile"]');
    let armored = textarea.value;
    if (file.files && file.files.length) {
      try {
        armored = await file.files[0].text();
      } catch {
        showFieldErrors(keyForm, { armored: "fieldErrorKeyFile" });
        return;
      }
    }
    const reply = await send({ op: "keySet", account: id, armored });
    if (reply.fieldErrors) {
      showFieldErrors(keyForm, reply.fieldErrors);
      return;
    }
    showFieldErrors(keyForm, {});
    if (reply.ok) {
      textarea.value = "";
      file.value = "";
    }
  });
  bindKeysForm(view);
}

function bindKeysForm(view) {
  const form = q(view.root, "[data-role=keys-put-form]");
  const field = (name) => q(form, `[data-field="${name}"]`);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = q(form, "button[type=submit]");
    if (busyGuard(button)) return;
    const reply = await send({
      op: "keysPut",
      account: view.id,
      addr: field("addr").value,
      keyText: field("keyText").value,
      mutual: field("mutual").checked,
    });
    if (reply.fieldErrors) {
      showFieldErrors(form, reply.fieldErrors);
      return;
    }
    showFieldErrors(form, {});
    if (reply.ok) {
      field("addr").value = "";
      field("keyText").value = "";
      field("mutual").checked = false;
    }
  });
}

function renderKeyring(view, account) {
  const table = q(view.root, "[data-role=keyring]");
  const tbody = q(table, "tbody");
  const rows = keyringRows(account);
  const have = [...tbody.children];
  for (const [i, row] of rows.entries()) {
    let tr = have[i];
    if (!tr) {
      tr = document.createElement("tr");
      for (let c = 0; c < 4; c += 1) tr.append(document.createElement(c === 0 ? "th" : "td"));
      tr.firstElementChild.scope = "row";
      tr.children[2].className = "key-start";
      tbody.append(tr);
    }
    const [addrCell, preferCell, keyCell, dateCell] = tr.children;
    setText(addrCell, row.addr);
    setText(preferCell, msg(row.preferKey));
    setText(keyCell, row.short);
    setText(dateCell, row.date);
  }
  for (const tr of have.slice(rows.length)) tr.remove();
  setText(q(table, "[data-role=keyring-caption]"), msg("keyringCaption", [String(rows.length)]));
  show(table, rows.length > 0);
  show(q(view.root, "[data-role=no-keyring]"), Boolean(account.keyring) && rows.length === 0);
}

async function onAction(view, action, button) {
  const id = view.id;
  const account = state.byId[id];
  switch (action) {
    case "join":
    case "sync":
    case "refresh":
      await send({ op: action, account: id });
      break;
    case "leave": {
      const confirm = q(view.root, "[data-role=leave-confirm]");
      show(confirm, true);
      q(confirm, "[data-action=leave-yes]").focus();
      break;
    }
    case "leave-no":
    case "leave-yes": {
      show(q(view.root, "[data-role=leave-confirm]"), false);
      q(view.root, "[data-action=leave]").focus();
      if (action === "leave-yes") await send({ op: "leave", account: id });
      break;
    }
    case "pairRequest": {
      view.dismissedOutgoing = null;
      const reply = await send({ op: "pairRequest", account: id });
      if (reply.ok) q(view.root, "[data-role=code]").focus();
      break;
    }
    case "pairCancelOutgoing":
      if (account.outgoing) await send({ op: "pairCancel", account: id, pairing_id: account.outgoing.pairing_id });
      break;
    case "pairDone":
      view.dismissedOutgoing = account.outgoing && account.outgoing.pairing_id;
      render();
      q(view.root, "[data-action=pairRequest]").focus();
      break;
    case "keyGet":
      await exportKey(view);
      break;
    case "remove":
      view.confirmRemove = button.dataset.muaa;
      render();
      view.rows.get(view.confirmRemove)?.querySelector("[data-action=remove-yes]")?.focus();
      break;
    case "remove-no": {
      const muaa = view.confirmRemove;
      view.confirmRemove = null;
      render();
      view.rows.get(muaa)?.querySelector("[data-action=remove]")?.focus();
      break;
    }
    case "remove-yes": {
      const muaa = view.confirmRemove;
      view.confirmRemove = null;
      render();
      await send({ op: "remove", account: id, muaa_id: muaa });
      break;
    }
    case "decline": {
      const li = button.closest("li");
      await send({ op: "pairCancel", account: id, pairing_id: li.dataset.pairing });
      break;
    }
    default:
      break;
  }
}

async function exportKey(view) {
  const link = q(view.root, "[data-role=key-download]");
  show(link, false);
  if (view.downloadUrl) URL.revokeObjectURL(view.downloadUrl);
  view.downloadUrl = null;
  const reply = await send({ op: "keyGet", account: view.id });
  const armored = reply.ok && reply.result && reply.result.armored;
  if (!armored) return; // the status line says why (no key yet, or the error)
  const account = state.byId[view.id];
  const name = keyFileName(account.settings.email || account.name);
  view.downloadUrl = URL.createObjectURL(new Blob([armored], { type: "application/pgp-keys" }));
  link.href = view.downloadUrl;
  link.download = name;
  setText(link, msg("keyDownloadLink", [name]));
  show(link, true);
  link.focus();
}

function renderDevices(view, account, now) {
  const tbody = q(view.root, "[data-role=devices] tbody");
  const { others } = devicesOf(account);
  const joined = isJoined(account);
  const seen = new Set();
  for (const device of others) {
    seen.add(device.muaa_id);
    let row = view.rows.get(device.muaa_id);
    if (!row) {
      row = document.createElement("tr");
      for (let i = 0; i < 4; i += 1) row.append(document.createElement(i === 0 ? "th" : "td"));
      row.firstElementChild.scope = "row";
      view.rows.set(device.muaa_id, row);
    }
    const [nameCell, seenCell, pairedCell, actionCell] = row.children;
    if (!nameCell.firstChild) {
      const name = document.createElement("span");
      const idSpan = document.createElement("span");
      idSpan.className = "muaa-id";
      nameCell.append(name, " ", idSpan);
    }
    setText(nameCell.children[0], device.name || device.muaa_id);
    setText(nameCell.children[1], device.muaa_id);
    const seenText = lastSeenText(device.last_seen, now);
    setText(seenCell, msg(seenText.key, seenText.subs));
    setText(pairedCell, msg(device.paired ? "pairedYes" : "pairedNo"));
    renderRowActions(view, account, device, actionCell, joined);
    if (row.parentNode !== tbody || row.nextElementSibling) tbody.append(row); // keeps the host's order
  }
  for (const [muaa, row] of view.rows) {
    if (!seen.has(muaa)) {
      row.remove();
      view.rows.delete(muaa);
    }
  }
  show(q(view.root, "[data-role=devices]"), others.length > 0);
  show(q(view.root, "[data-role=no-devices]"), others.length === 0);
  renderStatus(q(view.root, "[data-role=remove-status]"), anyTargetStatus(account, "remove"));
}

function renderRowActions(view, account, device, cell, joined) {
  const confirming = view.confirmRemove === device.muaa_id;
  const mode = !joined ? "none" : confirming ? "confirm" : "remove";
  if (cell.dataset.mode !== mode) {
    cell.dataset.mode = mode;
    cell.replaceChildren();
    const button = (action, key, cls) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = action;
      b.dataset.muaa = device.muaa_id;
      if (cls) b.className = cls;
      b.textContent = msg(key);
      return b;
    };
    if (mode === "remove") {
      const b = button("remove", "removeButton");
      b.setAttribute("aria-label", msg("removeButtonLabel", [device.name || device.muaa_id]));
      cell.append(b);
    } else if (mode === "confirm") {
      const question = document.createElement("span");
      question.textContent = msg("removeConfirmQuestion", [device.name || device.muaa_id]);
      cell.append(question, " ", button("remove-yes", "removeConfirmButton", "danger"), " ", button("remove-no", "cancelButton"));
    }
  }
  const pending = isPending(account, "remove", device.muaa_id);
  for (const b of cell.querySelectorAll("button")) b.setAttribute("aria-disabled", String(pending));
}

function renderIncoming(view, account, now) {
  const list = q(view.root, "[data-role=incoming]");
  const pairings = incomingPairings(account);
  const seen = new Set();
  for (const p of pairings) {
    seen.add(p.pairing_id);
    let li = view.incoming.get(p.pairing_id);
    if (!li) {
      li = document.getElementById("incoming-template").content.firstElementChild.cloneNode(true);
      const prefix = `${view.prefix}-p${p.pairing_id}`;
      wireIds(li, prefix);
      localize(li, getMessage);
      li.dataset.pairing = p.pairing_id;
      const form = q(li, "[data-role=accept-form]");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = q(form, "button[type=submit]");
        if (busyGuard(button)) return;
        const code = q(form, '[data-field="code"]').value;
        const reply = await send({ op: "pairAccept", account: view.id, pairing_id: p.pairing_id, code });
        if (reply.fieldErrors) showFieldErrors(form, reply.fieldErrors);
        else showFieldErrors(form, {});
      });
      view.incoming.set(p.pairing_id, li);
      list.append(li);
    }
    setText(q(li, "[data-role=peer-name]"), p.peer_name || p.peer || "");
    setText(q(li, "[data-role=peer-id]"), p.peer || "");
    const left = secondsLeft(p.expires_at, now);
    const open = p.state === "waiting" && !p.accepted && (left === null || left > 0);
    setText(
      q(li, "[data-role=expires]"),
      open && left !== null ? msg("pairExpiresIn", [formatCountdown(left)]) : "",
    );
    show(q(li, "[data-role=accept-form]"), open);
    const pending = isPending(account, "pairAccept", p.pairing_id) || isPending(account, "pairCancel", p.pairing_id);
    for (const b of li.querySelectorAll("button")) b.setAttribute("aria-disabled", String(pending));
    const status = q(li, "[data-role=incoming-status]");
    const accept = opStatus(account, "pairAccept", p.pairing_id);
    const cancel = opStatus(account, "pairCancel", p.pairing_id);
    const said = incomingMessage(p);
    if (accept.kind === "pending" || accept.kind === "error") renderStatus(status, accept);
    else if (cancel.kind === "pending" || cancel.kind === "error") renderStatus(status, cancel);
    else if (said) renderStatus(status, { kind: p.state === "complete" ? "notice" : p.state === "waiting" ? "pending" : "failed", ...said });
    else renderStatus(status, { kind: "none" });
  }
  for (const [pid, li] of view.incoming) {
    if (!seen.has(pid)) {
      li.remove();
      view.incoming.delete(pid);
    }
  }
  show(q(view.root, "[data-role=no-incoming]"), pairings.length === 0);
}

function renderOutgoing(view, account, now) {
  const box = q(view.root, "[data-role=outgoing]");
  const out = account.outgoing;
  const visible = Boolean(out) && view.dismissedOutgoing !== out.pairing_id;
  show(box, visible);
  if (!visible) return;
  const left = secondsLeft(out.expires_at, now);
  const waiting = out.state === "waiting" && (left === null || left > 0);
  const code = q(box, "[data-role=code]");
  setText(code, out.code || "");
  code.setAttribute("aria-label", msg("pairCodeLabelFor", [String(out.code || "").split("").join(" ")]));
  const said = waiting
    ? { key: "pairWaiting", subs: [] }
    : out.state === "waiting"
      ? { key: "pairReason_expired", subs: [] }
      : outgoingMessage(out);
  renderStatus(q(box, "[data-role=outgoing-status]"), { kind: waiting ? "pending" : out.state === "complete" ? "notice" : "failed", ...said });
  let countdown = q(box, "[data-role=countdown]");
  if (!countdown) {
    countdown = document.createElement("p");
    countdown.dataset.role = "countdown";
    countdown.className = "hint";
    q(box, "[data-role=outgoing-status]").after(countdown);
  }
  setText(countdown, waiting && left !== null ? msg("pairExpiresIn", [formatCountdown(left)]) : "");
  show(q(box, "[data-action=pairCancelOutgoing]"), waiting);
  show(q(box, "[data-action=pairDone]"), !waiting);
  code.classList.toggle("done", !waiting);
  renderStatus(q(box, "[data-role=outgoing-cancel-status]"), opStatus(account, "pairCancel", out.pairing_id));
}

function renderAccount(view, account, now) {
  const root = view.root;
  setText(q(root, "[data-role=title]"), msg("accountTitle", [account.name, account.settings.email || ""]));
  const event = account.event;
  setText(q(root, "[data-role=event]"), event ? msg(event.key, event.subs) : "");
  show(q(root, "[data-role=needs-password]"), account.needsPassword);

  for (const el of root.querySelectorAll("[data-op-status]")) {
    renderStatus(el, opStatus(account, el.dataset.opStatus));
  }
  for (const b of root.querySelectorAll("button[data-op]")) {
    b.setAttribute("aria-disabled", String(isPending(account, b.dataset.op)));
  }
  root.setAttribute("aria-busy", String(Object.keys(account.pending).length > 0));

  const hint = smaHint(account);
  setText(q(root, "[data-role=sma-hint]"), msg(hint));
  const joined = isJoined(account);
  const known = Boolean(account.sma) || account.configured;
  show(q(root, "[data-role=sma-body]"), known);
  show(q(root, "[data-action=join]"), !joined);
  show(q(root, "[data-action=sync]"), joined);
  show(q(root, "[data-action=leave]"), joined);
  if (!joined) show(q(root, "[data-role=leave-confirm]"), false);
  const removed = Boolean(account.sma && account.sma.removed);
  const { self } = devicesOf(account);
  if (self && !removed) {
    const seenText = lastSeenText(self.last_seen, now);
    setText(q(root, "[data-role=self]"), msg("selfDevice", [self.name, self.muaa_id, msg(seenText.key, seenText.subs)]));
  } else {
    setText(q(root, "[data-role=self]"), msg(removed ? "selfRemoved" : "selfNotJoined"));
  }
  renderDevices(view, account, now);
  show(q(root, "[data-action=pairRequest]"), joined);
  renderOutgoing(view, account, now);
  renderIncoming(view, account, now);
  renderKeyring(view, account);
}

// ---- the page ----------------------------------------------------------------------

function renderHost() {
  const host = state.host;
  const said = hostStatusMessage(host);
  setText(document.getElementById("host-status"), msg(said.key, said.subs));
  document.getElementById("host-status").dataset.kind = host.state;
  show(document.getElementById("host-missing"), host.state === "host_missing");
  setText(document.getElementById("install-command"), host.installCommand);
  show(document.getElementById("retry-host"), host.state !== "connected" && host.state !== "connecting");
}

function render() {
  if (!state) return;
  const now = Date.now();
  renderHost();
  const main = document.querySelector("main");
  main.setAttribute("aria-busy", String(!state.accountsLoaded));
  const status = document.getElementById("accounts-status");
  if (!state.accountsLoaded) setText(status, msg("accountsLoading"));
  else if (state.accountsError) setText(status, msg("accountsError", [state.accountsError]));
  else if (state.order.length === 0) setText(status, msg("accountsNone"));
  else if (status.dataset.kind !== "error") setText(status, "");

  const container = document.getElementById("accounts");
  for (const id of state.order) {
    let view = views.get(id);
    if (!view) {
      view = buildView(state.byId[id]);
      views.set(id, view);
    }
    // Keeps Thunderbird's account order; a node already in place is not moved (that would blur it).
    if (view.root.parentNode !== container || view.root.nextElementSibling) container.append(view.root);
    renderAccount(view, state.byId[id], now);
  }
  for (const [id, view] of views) {
    if (!state.byId[id]) {
      view.root.remove();
      views.delete(id);
    }
  }
}

function connect() {
  client = connectUi(api.runtime, {
    onState(next) {
      state = next;
      render();
    },
    onDisconnect() {
      // The background page was restarted: connect again.
      setTimeout(connect, 500);
    },
  });
}

function init() {
  document.documentElement.lang = getMessage("@@ui_locale").replace("_", "-") || "en";
  localize(document, getMessage);
  document.getElementById("retry-host").addEventListener("click", () => send({ op: "retryHost" }));
  document.getElementById("copy-command").addEventListener("click", async () => {
    const command = document.getElementById("install-command").textContent;
    try {
      await navigator.clipboard.writeText(command);
      setText(document.getElementById("copy-status"), msg("copyDone"));
    } catch {
      setText(document.getElementById("copy-status"), msg("copyFailed"));
    }
  });
  connect();
  setInterval(render, 1000); // countdowns and "last seen"
}

init();
