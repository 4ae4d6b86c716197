// How an account's section is set up: one click with Thunderbird's settings, the manual
// form behind "Other settings" (open when Thunderbird cannot describe the server, saying
// why), one sentence for POP3 and Local Folders, and the section folded to its status line
// once the account is set up, as Thunderbird's own account settings are.

import { devicesOf, isImapAccount, isJoined, thunderbirdReasonKey, thunderbirdSetup } from "../modules/state.js";
import { q, setText, show } from "./dom.js";
import { msg, send } from "./page.js";

/** The section's one-line status: connected, joined, N devices (shown also when folded). */
export function statusLine(account) {
  if (!isImapAccount(account)) return ""; // the section says why in a sentence
  const parts = [msg(account.configured ? "statusConnected" : "statusNotConnected")];
  parts.push(msg(isJoined(account) ? "statusJoined" : "statusNotJoined"));
  if (isJoined(account)) {
    const { others } = devicesOf(account);
    const paired = String(others.filter((d) => d.paired).length);
    if (others.length === 1) parts.push(msg("statusDevicesOne", [paired]));
    else parts.push(msg("statusDevices", [String(others.length), paired]));
  }
  return parts.join(" · ");
}

/** Decided once per page: an account set up before the page opened starts folded. */
export function initialFold(view, account) {
  q(view.root, "[data-role=account-details]").open = !account.savedJoined;
}

/** Set up with Thunderbird's settings and working: the one click is done, not a step left. */
function usesThunderbird(account) {
  return account.fromThunderbird && account.configured && !account.needsPassword;
}

function introText(answer, inUse) {
  let key = answer.auth === "oauth2" ? "thunderbirdIntroOAuth2" : "thunderbirdIntro";
  if (inUse) key = "thunderbirdInUse";
  return msg(key, [String(answer.host), String(answer.port), String(answer.username)]);
}

/**
 * "Other settings" is closed when the one click is offered, unless the account was set up
 * by hand; open when it is not offered. Decided when Thunderbird's answer first arrives,
 * and opened again when the host asks for a typed password; the user's own toggling stays.
 */
function renderDisclosure(view, account, setup) {
  const other = q(view.root, "[data-role=other-settings]");
  if (setup.kind !== "loading" && !view.disclosureDecided) {
    view.disclosureDecided = true;
    other.open = setup.kind !== "ready" || (account.savedConfigured && !account.fromThunderbird);
  }
  if (account.needsPassword && !view.askedPassword) {
    other.open = true;
    q(view.root, "[data-role=account-details]").open = true;
  }
  view.askedPassword = account.needsPassword;
}

export function renderSetup(view, account) {
  const root = view.root;
  const imap = isImapAccount(account);
  show(q(root, "[data-role=not-imap]"), !imap);
  setText(q(root, "[data-role=status-line]"), statusLine(account));
  if (!imap) return;
  // Pairing and keys come after the server: not stacked open before it is set up.
  const serverKnown = account.configured || account.savedConfigured || Boolean(account.sma);
  for (const card of ["pair-card", "key-card", "keyring-card"]) show(q(root, `[data-role=${card}]`), serverKnown);

  const setup = thunderbirdSetup(account);
  show(q(root, "[data-role=thunderbird-setup]"), setup.kind === "ready");
  if (setup.kind === "ready") {
    const inUse = usesThunderbird(account);
    setText(q(root, "[data-role=thunderbird-intro]"), introText(setup.answer, inUse));
    show(q(root, "[data-action=useThunderbird]").parentElement, !inUse);
  }
  const why = q(root, "[data-role=thunderbird-why]");
  show(why, setup.kind !== "ready");
  if (setup.kind === "loading") setText(why, msg("thunderbirdLoading"));
  if (setup.kind === "unavailable") setText(why, msg(thunderbirdReasonKey(setup.reason), [setup.detail]));
  renderDisclosure(view, account, setup);
}

export const setupActions = Object.freeze({
  useThunderbird: (view) => send({ op: "useThunderbird", account: view.id }),
});
