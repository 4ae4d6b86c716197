// The "Pairing" part of an account: this device's code and countdown, incoming requests with their code form.

import { localize } from "../modules/i18n.js";
import {
  formatCountdown,
  incomingMessage,
  incomingPairings,
  isJoined,
  isPending,
  lastSeenText,
  offersPairTarget,
  opStatus,
  outgoingMessage,
  pairTargets,
  secondsLeft,
} from "../modules/state.js";
import { onSubmit, pruneKeyed, q, setText, show, wireIds } from "./dom.js";
import { getMessage, msg, page, renderStatus, send, showFieldErrors } from "./page.js";

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
      onSubmit(form, async () => {
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
  pruneKeyed(view.incoming, seen);
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

const TARGET_FIELD = '[data-field="pairTarget"]';

/**
 * "Pair with": with more than one unpaired device announced, a <select> of them by name and
 * last-seen time, the host's default (the devices seen most recently) first. The options are
 * rebuilt in place; the choice stays while its device is listed.
 */
function renderPairTarget(view, account, now) {
  const box = q(view.root, "[data-role=pair-target]");
  const offered = isJoined(account) && offersPairTarget(account);
  show(box, offered);
  const select = q(box, TARGET_FIELD);
  const targets = offered ? pairTargets(account) : [];
  const chosen = select.value;
  const wanted = [
    { value: "", text: msg("pairTargetAny") },
    ...targets.map((t) => {
      const seen = lastSeenText(t.last_seen, now);
      return { value: t.muaa_id, text: msg("pairTargetOption", [t.name, t.muaa_id, msg(seen.key, seen.subs)]) };
    }),
  ];
  while (select.options.length > wanted.length) select.options[select.options.length - 1].remove();
  wanted.forEach((w, i) => {
    let option = select.options[i];
    if (!option) {
      option = document.createElement("option");
      select.append(option);
    }
    if (option.value !== w.value) option.value = w.value;
    setText(option, w.text);
  });
  const value = wanted.some((w) => w.value === chosen) ? chosen : "";
  if (select.value !== value) select.value = value;
}

/** The device picked on the pairing card, or "" (the host's default). */
function pickedTarget(view) {
  const box = q(view.root, "[data-role=pair-target]");
  return box.hidden ? "" : q(box, TARGET_FIELD).value;
}

export function renderPairing(view, account, now) {
  show(q(view.root, "[data-action=pairRequest]"), isJoined(account));
  renderPairTarget(view, account, now);
  renderOutgoing(view, account, now);
  renderIncoming(view, account, now);
}

/** data-action → (view, button, action): pair this device, cancel or dismiss its request, decline one. */
export const pairingActions = Object.freeze({
  async pairRequest(view) {
    view.dismissedOutgoing = null;
    const to = pickedTarget(view);
    const reply = await send(to ? { op: "pairRequest", account: view.id, to } : { op: "pairRequest", account: view.id });
    if (reply.ok) q(view.root, "[data-role=code]").focus();
  },
  async pairCancelOutgoing(view) {
    const account = page.state.byId[view.id];
    if (account.outgoing) await send({ op: "pairCancel", account: view.id, pairing_id: account.outgoing.pairing_id });
  },
  pairDone(view) {
    const account = page.state.byId[view.id];
    view.dismissedOutgoing = account.outgoing && account.outgoing.pairing_id;
    page.render();
    q(view.root, "[data-action=pairRequest]").focus();
  },
  async decline(view, button) {
    const li = button.closest("li");
    await send({ op: "pairCancel", account: view.id, pairing_id: li.dataset.pairing });
  },
});
