// One account's section of the settings page: built once from the template, its buttons wired, rendered from the state.

import { localize } from "../modules/i18n.js";
import { accountKeyActions, renderAccountKey } from "./account-key.js";
import { isImapAccount, isPending, opStatus } from "../modules/state.js";
import { devicesActions, renderDevicesCard } from "./devices.js";
import { busyGuard, q, setText, show, wireIds } from "./dom.js";
import { bindImapForm, fillImapForm } from "./imap-form.js";
import { bindKeyForms, exportKey, renderKeyring } from "./keys.js";
import { getMessage, msg, renderStatus } from "./page.js";
import { pairingActions, renderPairing } from "./pairing.js";
import { initialFold, renderSetup, setupActions } from "./setup.js";

/** data-action → (view, button, action) → (maybe a promise): every button in an account's section. */
const ACTIONS = Object.freeze({ ...setupActions, ...devicesActions, ...pairingActions, ...accountKeyActions, keyGet: exportKey });

let viewCounter = 0;

export function buildView(account) {
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
    removals: new Map(), // removed muaa_id → li ("waiting for … to confirm")
    confirmRemove: null, // muaa_id awaiting confirmation
    dismissedOutgoing: null,
    downloadUrl: null,
    confirmInstall: false, // "Install in Thunderbird" asked, awaiting the answer
    manualDecided: false, // the key card's paste and file paths opened or closed once
    disclosureDecided: false, // "Other settings" opened or closed once Thunderbird answered
    askedPassword: false,
    imap: isImapAccount(account), // POP3 and Local Folders: a sentence, none of the cards
  };
  initialFold(view, account);
  if (!view.imap) {
    q(root, "[data-role=imap-account]").remove();
    return view;
  }
  fillImapForm(view, account);
  bindView(view);
  return view;
}

function bindView(view) {
  bindImapForm(view);
  // One listener for every button of the section, rows and requests added later included.
  view.root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !view.root.contains(button) || busyGuard(button)) return;
    const action = button.dataset.action;
    if (Object.hasOwn(ACTIONS, action)) ACTIONS[action](view, button, action);
  });
  bindKeyForms(view);
}

export function renderAccount(view, account, now) {
  const root = view.root;
  const email = account.settings.email || "";
  setText(q(root, "[data-role=title]"), email ? msg("accountTitle", [account.name, email]) : account.name);
  if (!view.imap) {
    renderSetup(view, account);
    return;
  }
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

  renderSetup(view, account);
  renderDevicesCard(view, account, now);
  renderPairing(view, account, now);
  renderAccountKey(view, account);
  renderKeyring(view, account);
}
