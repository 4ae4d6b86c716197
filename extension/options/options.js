// The settings page: renders the state the background broadcasts and sends it intents.
// DOM only; the logic is in modules/controller.js and modules/state.js. This module is the
// page itself (host status, the list of accounts, the connection); one account's section
// is account-view.js with its cards in imap-form.js, devices.js, pairing.js and keys.js.

import { localize } from "../modules/i18n.js";
import { connectUi } from "../modules/ui-bridge.js";
import { hostStatusMessage } from "../modules/state.js";
import { buildView, renderAccount } from "./account-view.js";
import { setText, show } from "./dom.js";
import { api, getMessage, msg, page, send } from "./page.js";

const views = new Map(); // account id → view

function renderHost() {
  const host = page.state.host;
  const said = hostStatusMessage(host);
  setText(document.getElementById("host-status"), msg(said.key, said.subs));
  document.getElementById("host-status").dataset.kind = host.state;
  show(document.getElementById("host-missing"), host.state === "host_missing");
  setText(document.getElementById("install-command"), host.installCommand);
  show(document.getElementById("retry-host"), host.state !== "connected" && host.state !== "connecting");
}

function render() {
  const state = page.state;
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
  let previous = null;
  for (const id of state.order) {
    let view = views.get(id);
    if (!view) {
      view = buildView(state.byId[id]);
      views.set(id, view);
    }
    // Keeps Thunderbird's account order; a node already in place is not moved (that would blur it).
    const inPlace = view.root.parentNode === container && view.root.previousElementSibling === previous;
    if (!inPlace) container.insertBefore(view.root, previous ? previous.nextElementSibling : container.firstElementChild);
    previous = view.root;
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
  page.client = connectUi(api.runtime, {
    onState(next) {
      page.state = next;
      render();
    },
    onDisconnect() {
      // The background page was restarted: connect again.
      setTimeout(connect, 500);
    },
  });
}

function init() {
  page.render = render;
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
