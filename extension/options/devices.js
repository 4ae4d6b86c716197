// The "Your devices" card: membership (join, sync, refresh, leave), this device, the other devices and removing one.

import {
  anyTargetStatus,
  devicesOf,
  isJoined,
  isPending,
  lastSeenText,
  removalLines,
  removedKeyNotice,
  smaHint,
} from "../modules/state.js";
import { pruneKeyed, q, setText, show } from "./dom.js";
import { msg, page, renderStatus, send } from "./page.js";

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

/** The other devices' table, one row per device kept across renders (focus stays put). */
function renderOtherDevices(view, account, now) {
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
  pruneKeyed(view.rows, seen);
  show(q(view.root, "[data-role=devices]"), others.length > 0);
  show(q(view.root, "[data-role=no-devices]"), others.length === 0);
  renderStatus(q(view.root, "[data-role=remove-status]"), anyTargetStatus(account, "remove"));
}

/** The removals this device made: who has not confirmed yet, with "Check again" (device.remove again). */
function renderRemovals(view, account) {
  const list = q(view.root, "[data-role=removals]");
  const seen = new Set();
  for (const line of removalLines(account)) {
    seen.add(line.muaa_id);
    let li = view.removals.get(line.muaa_id);
    if (!li) {
      li = document.createElement("li");
      const text = document.createElement("span");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = "removal-refresh";
      b.dataset.muaa = line.muaa_id;
      b.textContent = msg("removalRefreshButton");
      li.append(text, " ", b);
      view.removals.set(line.muaa_id, li);
      list.append(li);
    }
    const [text, button] = li.querySelectorAll("span, button");
    setText(text, msg(line.key, line.subs));
    button.setAttribute("aria-label", msg("removalRefreshLabel", [line.subs[0]]));
    button.setAttribute("aria-disabled", String(isPending(account, "remove", line.muaa_id)));
    show(button, line.waiting);
  }
  pruneKeyed(view.removals, seen);
  show(list, seen.size > 0);
}

export function renderDevicesCard(view, account, now) {
  const root = view.root;
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
  const keyNotice = removedKeyNotice(account);
  const keyLine = q(root, "[data-role=removed-key]");
  show(keyLine, Boolean(keyNotice));
  setText(keyLine, keyNotice ? msg(keyNotice.key, keyNotice.subs) : "");
  renderOtherDevices(view, account, now);
  renderRemovals(view, account);
}

const sendPlain = (view, button, action) => send({ op: action, account: view.id });

async function leaveAnswered(view, button, action) {
  show(q(view.root, "[data-role=leave-confirm]"), false);
  q(view.root, "[data-action=leave]").focus();
  if (action === "leave-yes") await send({ op: "leave", account: view.id });
}

/** data-action → (view, button, action): the card's buttons. Leave and remove ask first. */
export const devicesActions = Object.freeze({
  join: sendPlain,
  sync: sendPlain,
  refresh: sendPlain,
  leave(view) {
    const confirm = q(view.root, "[data-role=leave-confirm]");
    show(confirm, true);
    q(confirm, "[data-action=leave-yes]").focus();
  },
  "leave-no": leaveAnswered,
  "leave-yes": leaveAnswered,
  remove(view, button) {
    view.confirmRemove = button.dataset.muaa;
    page.render();
    view.rows.get(view.confirmRemove)?.querySelector("[data-action=remove-yes]")?.focus();
  },
  "remove-no"(view) {
    const muaa = view.confirmRemove;
    view.confirmRemove = null;
    page.render();
    view.rows.get(muaa)?.querySelector("[data-action=remove]")?.focus();
  },
  async "remove-yes"(view) {
    const muaa = view.confirmRemove;
    view.confirmRemove = null;
    page.render();
    await send({ op: "remove", account: view.id, muaa_id: muaa });
  },
  /** device.remove again for an id already removed: the host answers who has confirmed since. */
  async "removal-refresh"(view, button) {
    await send({ op: "remove", account: view.id, muaa_id: button.dataset.muaa });
  },
});
