// What every part of the settings page shares: messages, the latest state, intents out, status lines, field errors.

import { t } from "../modules/i18n.js";
import { setText } from "./dom.js";

export const api = globalThis.messenger ?? globalThis.browser;
export const getMessage = (key, subs) => api.i18n.getMessage(key, subs);
export const msg = (key, subs) => t(getMessage, key, subs);

/**
 * The page's mutable part, set by options.js: the state the background broadcast last (null
 * before the first), the connection to the background (connectUi), and render(), which
 * redraws the whole page from that state.
 */
export const page = { state: null, client: null, render() {} };

function errorTextOf(reply) {
  const e = reply && reply.error;
  if (!e) return "";
  return e.text || msg(`error_${e.reason}`) || msg("error_unknown", [String(e.reason), ""]);
}

/** Send an intent to the background; when the background lost or did not know it, the page says so. */
export async function send(intent) {
  const reply = await page.client.send(intent);
  if (!reply.ok && reply.error && (reply.error.reason === "ui_disconnected" || reply.error.reason === "unknown_intent")) {
    setText(document.getElementById("accounts-status"), errorTextOf(reply));
  }
  return reply;
}

/** status: {kind: none|pending|notice|error|failed, text?} or {kind, key, subs}. */
export function renderStatus(el, status) {
  if (!el) return;
  let text = "";
  if (status.text) text = status.text;
  else if (status.key) text = msg(status.key, status.subs);
  else if (status.kind === "error") text = msg("error_unknown", [status.reason || "", ""]);
  setText(el, text);
  el.dataset.kind = status.kind;
}

/** Show field errors ({field: messageKey}); focus the first invalid field. */
export function showFieldErrors(root, errors) {
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
