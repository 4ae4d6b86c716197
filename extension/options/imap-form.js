// The "Mail server (IMAP)" card: filling the form, guessing as the user types, account.configure.

import { DEFAULT_PORTS, guessImapSettings } from "../modules/state.js";
import { onSubmit, q } from "./dom.js";
import { send, showFieldErrors } from "./page.js";

const fieldOf = (form) => (name) => q(form, `[data-field="${name}"]`);

/** Put the account's stored settings into the form, and offer its identities' addresses. */
export function fillImapForm(view, account) {
  const form = q(view.root, "[data-role=imap-form]");
  const s = account.settings;
  const field = fieldOf(form);
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
  const field = fieldOf(form);
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

export function bindImapForm(view) {
  const form = q(view.root, "[data-role=imap-form]");
  const field = fieldOf(form);

  // Fields the user typed in are theirs: a new address no longer overwrites them.
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

  onSubmit(form, async () => {
    const password = field("password").value;
    const reply = await send({ op: "configure", account: view.id, settings: readSettings(form), password });
    if (reply.fieldErrors) {
      showFieldErrors(form, reply.fieldErrors);
      return;
    }
    showFieldErrors(form, {});
    if (reply.ok) field("password").value = "";
  });
}
