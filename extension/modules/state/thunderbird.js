// An account as Thunderbird has it: its IMAP settings (from the smaThunderbird Experiment,
// never a secret), whether the add-on set it up from them, and its OAuth2 token's renewal.

import { REASONS } from "../thunderbird-accounts.js";
import { SECURITY_VALUES } from "./settings.js";

/** The fields of the Experiment's settings answer the state keeps (there is no secret in it). */
const ANSWER_FIELDS = Object.freeze(["available", "imap", "type", "host", "port", "security", "username", "auth", "reason", "detail"]);

/**
 * Why Thunderbird's settings cannot set an account up: the wrapper's reasons (the
 * Experiment's codes), the settings' own (a server sma-host cannot use), and a password
 * Thunderbird has not saved.
 */
export const THUNDERBIRD_REASONS = Object.freeze([...REASONS, "security_unsupported", "auth_unsupported", "no_saved_password"]);

/** The message key that says `reason` (a Thunderbird-side failure) in words. */
export function thunderbirdReasonKey(reason) {
  return `thunderbird_${THUNDERBIRD_REASONS.includes(reason) ? reason : "failed"}`;
}

/** A Thunderbird-side failure as an operation error: no host text, a message key instead. */
export function thunderbirdError(reason, detail = "") {
  const known = THUNDERBIRD_REASONS.includes(reason) ? reason : "failed";
  return { reason: known, code: null, text: "", key: thunderbirdReasonKey(known), subs: [String(detail || "")], data: {} };
}

/** Only the known, non-secret fields of an imapSettings answer. */
export function sanitizeAnswer(answer) {
  const out = {};
  for (const field of ANSWER_FIELDS) {
    if (answer && answer[field] !== undefined) out[field] = answer[field];
  }
  return out;
}

/** Accounts whose mail comes from an IMAP server; the rest (POP3, Local Folders) get a sentence. */
export function isImapAccount(account) {
  return Boolean(account) && account.type === "imap";
}

/**
 * Can Thunderbird's settings set this account up with one click?
 * {kind: "loading"} before the Experiment answered, {kind: "ready", answer} when it can,
 * {kind: "unavailable", reason, detail} when it cannot (the manual form then, and why).
 */
export function thunderbirdSetup(account) {
  const answer = account && account.thunderbird;
  if (!answer) return { kind: "loading" };
  if (!answer.available) return { kind: "unavailable", reason: answer.reason || "failed", detail: "" };
  if (!answer.imap) return { kind: "unavailable", reason: "not_imap", detail: "" };
  if (!SECURITY_VALUES.includes(answer.security)) {
    return { kind: "unavailable", reason: "security_unsupported", detail: answer.detail || "" };
  }
  if (answer.auth !== "password" && answer.auth !== "oauth2") {
    return { kind: "unavailable", reason: "auth_unsupported", detail: answer.detail || "" };
  }
  return { kind: "ready", answer };
}

/** The non-secret settings Thunderbird gave, in the form's words (what is stored). */
export function settingsFromThunderbird(answer) {
  return { host: answer.host, port: answer.port, security: answer.security, username: answer.username };
}

/**
 * account.configure params from Thunderbird's settings and the credential it gave:
 * {password} or {accessToken} (OAuth2). Nothing is remembered in the OS keyring:
 * Thunderbird keeps the password, and gives it again after a restart.
 */
export function buildThunderbirdConfigureParams(accountId, settings, answer, credential) {
  const imap = {
    host: String(answer.host),
    port: Number(answer.port),
    security: answer.security,
    username: String(answer.username),
  };
  if (answer.auth === "oauth2") {
    imap.auth = "oauth2";
    imap.access_token = credential.accessToken;
  } else {
    imap.password = credential.password;
  }
  return {
    account: accountId,
    email: String(settings.email).trim(),
    device_name: String(settings.deviceName).trim(),
    imap,
    remember: false,
  };
}

// ---- the Thunderbird slice of the reducer --------------------------------------------

/** {type: "thunderbird", account, answer}: what the Experiment said about the account. */
export function withThunderbirdAnswer(a, answer) {
  return { ...a, thunderbird: sanitizeAnswer(answer) };
}

export const thunderbirdOnSuccess = Object.freeze({
  token: (a) => ({ ...a, tokenNeeded: false, configured: true }),
  useThunderbird: (a, { notice }) => ({ ...a, fromThunderbird: true, notices: notice("noticeUsedThunderbird", [String(a.settings.host)]) }),
});

export const thunderbirdOnNotification = Object.freeze({
  // The server refused the token: the controller asks Thunderbird for a new one (account.token).
  "account.token_needed": (a) => ({ ...a, tokenNeeded: true }),
});
