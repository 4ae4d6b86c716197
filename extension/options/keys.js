// The "Account key" and "Correspondent keys" cards: set and export the account key, the keyring table, keys.put.

import { keyFileName, keyringRows } from "../modules/state.js";
import { onSubmit, q, setText, show } from "./dom.js";
import { msg, page, send, showFieldErrors } from "./page.js";

/** The account key form: pasted or from an .asc file, to account.key.set. */
function bindAccountKeyForm(view) {
  const keyForm = q(view.root, "[data-role=key-form]");
  onSubmit(keyForm, async () => {
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
    const reply = await send({ op: "keySet", account: view.id, armored });
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
}

/** The "add or update a correspondent key" form, to keys.put. */
function bindKeysPutForm(view) {
  const form = q(view.root, "[data-role=keys-put-form]");
  const field = (name) => q(form, `[data-field="${name}"]`);
  onSubmit(form, async () => {
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

export function bindKeyForms(view) {
  bindAccountKeyForm(view);
  bindKeysPutForm(view);
}

/** Export the account key: a download link to <address>-account-key.asc, for Thunderbird's Key Manager. */
export async function exportKey(view) {
  const link = q(view.root, "[data-role=key-download]");
  show(link, false);
  if (view.downloadUrl) URL.revokeObjectURL(view.downloadUrl);
  view.downloadUrl = null;
  const reply = await send({ op: "keyGet", account: view.id });
  const armored = reply.ok && reply.result && reply.result.armored;
  if (!armored) return; // the status line says why (no key yet, or the error)
  const account = page.state.byId[view.id];
  const name = keyFileName(account.settings.email || account.name);
  view.downloadUrl = URL.createObjectURL(new Blob([armored], { type: "application/pgp-keys" }));
  link.href = view.downloadUrl;
  link.download = name;
  setText(link, msg("keyDownloadLink", [name]));
  show(link, true);
  link.focus();
}

export function renderKeyring(view, account) {
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
      tr.children[2].className = "fingerprint";
      tbody.append(tr);
    }
    const [addrCell, preferCell, keyCell, dateCell] = tr.children;
    setText(addrCell, row.addr);
    setText(preferCell, msg(row.preferKey));
    setText(keyCell, row.key);
    setText(dateCell, row.date);
  }
  for (const tr of have.slice(rows.length)) tr.remove();
  setText(q(table, "[data-role=keyring-caption]"), msg("keyringCaption", [String(rows.length)]));
  show(table, rows.length > 0);
  show(q(view.root, "[data-role=no-keyring]"), Boolean(account.keyring) && rows.length === 0);
}
