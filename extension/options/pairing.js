// The "Pairing" part of an account: this device's code and countdown, incoming requests with their code form.

import { localize } from "../modules/i18n.js";
import { formatCountdown, incomingMessage, incomingPairings, isJoined, isPending, opStatus, outgoingMessage, secondsLeft } from "../modules/state.js";
import { onSubmit, q, setText, show, wireIds } from "./dom.js";
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

export function renderPairing(view, account, now) {
  show(q(view.root, "[data-action=pairRequest]"), isJoined(account));
  renderOutgoing(view, account, now);
  renderIncoming(view, account, now);
}

/** data-action → (view, button, action): pair this device, cancel or dismiss its request, decline one. */
export const pairingActions = Object.freeze({
  async pairRequest(view) {
    view.dismissedOutgoing = null;
    const reply = await send({ op: "pairRequest", account: view.id });
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
