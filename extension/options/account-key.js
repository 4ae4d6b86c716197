// The "Account key" card's Thunderbird part: the identity's key in Thunderbird's OpenPGP
// with "Share this key with my devices", the account key sma-host holds with "Install in
// Thunderbird" (asks first), and the paste and file paths behind a disclosure, open when
// Thunderbird's OpenPGP cannot help (saying why). Only fingerprints, user IDs and dates
// reach this page.

import { groupedFingerprint, isoDay, keyCard, openpgpReasonKey } from "../modules/state.js";
import { q, setText, show } from "./dom.js";
import { msg, page, send } from "./page.js";

function renderShare(view, share) {
  const root = view.root;
  show(q(root, "[data-role=key-share]"), share.kind === "offer");
  if (share.kind === "offer") {
    setText(q(root, "[data-role=share-fingerprint]"), groupedFingerprint(share.key.fingerprint));
    setText(q(root, "[data-role=share-user-id]"), share.key.userId);
    setText(q(root, "[data-role=share-created]"), isoDay(share.key.created));
  }
  const why = q(root, "[data-role=key-share-why]");
  const text = { loading: msg("keyShareLoading"), none: msg("keyShareNone") }[share.kind] ?? "";
  setText(why, text);
  show(why, text !== "");
}

function renderInstall(view, install, email) {
  const root = view.root;
  show(q(root, "[data-role=key-install]"), install.kind !== "none");
  if (install.kind === "none") {
    view.confirmInstall = false;
    return;
  }
  const fingerprint = groupedFingerprint(install.fingerprint);
  const textKey = install.kind === "installed" ? "keyInstalledText" : "keyInstallText";
  setText(q(root, "[data-role=install-text]"), msg(textKey, [fingerprint, email]));
  const confirming = install.kind === "offer" && view.confirmInstall;
  show(q(root, "[data-role=install-offer]"), install.kind === "offer" && !confirming);
  show(q(root, "[data-role=install-confirm]"), confirming);
  if (confirming) setText(q(root, "[data-role=install-question]"), msg("keyInstallQuestion", [email]));
}

/** The manual paths: open, saying why, when Thunderbird's OpenPGP cannot help; decided once. */
function renderManual(view, manual, share) {
  const details = q(view.root, "[data-role=key-manual]");
  if (share.kind !== "loading" && !view.manualDecided) {
    view.manualDecided = true;
    details.open = manual.open;
  }
  const why = q(view.root, "[data-role=key-manual-why]");
  setText(why, manual.reason ? msg(openpgpReasonKey(manual.reason)) : "");
  show(why, Boolean(manual.reason));
}

export function renderAccountKey(view, account) {
  const card = keyCard(account);
  renderShare(view, card.share);
  renderInstall(view, card.install, account.settings.email || account.name);
  renderManual(view, card.manual, card.share);
}

export const accountKeyActions = Object.freeze({
  keyShare: (view) => send({ op: "keyShare", account: view.id }),
  keyInstall(view) {
    view.confirmInstall = true;
    page.render();
    q(view.root, "[data-action=keyInstallYes]").focus();
  },
  async keyInstallYes(view) {
    view.confirmInstall = false;
    page.render();
    q(view.root, "[data-action=keyInstall]").focus();
    await send({ op: "keyInstall", account: view.id });
  },
  keyInstallNo(view) {
    view.confirmInstall = false;
    page.render();
    q(view.root, "[data-action=keyInstall]").focus();
  },
});
