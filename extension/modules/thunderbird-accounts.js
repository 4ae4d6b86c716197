// The add-on's one door to the smaThunderbird Experiment (experiments/README.md): an
// account's IMAP settings, its saved password, an OAuth2 access token, as Thunderbird has
// them. Every answer is a value, never an exception: {available: true, …} or
// {available: false, reason, message}, so that the caller falls back to the manual form
// and can say why (the Experiment missing, an internal of this Thunderbird version missing,
// a cancelled primary password, …).
//
// Passwords and tokens from here go only to the host (account.configure / account.token);
// they are never stored, logged or put in a page.

/** Codes the Experiment puts before its messages ("no_account: …"); anything else is "failed". */
export const REASONS = Object.freeze([
  "experiment_missing", // this add-on runs without its Experiment (or an older one)
  "unavailable", // a Thunderbird internal the Experiment needs is missing in this version
  "background_only", // credentials were asked for outside the background (a page)
  "no_account",
  "not_imap",
  "not_oauth2",
  "primary_password_cancelled",
  "oauth2_no_provider",
  "oauth2_failed",
  "failed", // anything else the Experiment or Thunderbird threw
]);

const CODED = /^([a-z0-9_]+): (.*)$/s;

/** An error from the Experiment as {available: false, reason, message}. */
function unavailable(error, reasons) {
  const text = String((error && error.message) || error || "");
  const match = CODED.exec(text);
  if (match && reasons.includes(match[1])) {
    return { available: false, reason: match[1], message: match[2] };
  }
  return { available: false, reason: "failed", message: text };
}

/**
 * The one way the add-on calls the Experiment (here and in thunderbird-openpgp.js):
 * `ask(name, args, wrap)` answers {available: true, ...wrap(answer)}, or
 * {available: false, reason, message} when the function is missing ("experiment_missing")
 * or throws (its code when it is one of `reasons`, otherwise "failed"). It never throws.
 *
 * @param {object} api the messenger namespace
 * @param {readonly string[]} reasons the codes the caller's functions may answer
 */
export function experimentCaller(api, reasons) {
  return async function ask(name, args, wrap) {
    const fn = api?.smaThunderbird?.[name];
    if (typeof fn !== "function") {
      return { available: false, reason: "experiment_missing", message: `smaThunderbird.${name} is missing` };
    }
    try {
      return { available: true, ...wrap(await fn(...args)) };
    } catch (e) {
      return unavailable(e, reasons);
    }
  };
}

/**
 * @param {object} [api] the messenger namespace (default: the add-on's own)
 */
export function createThunderbirdAccounts(api = globalThis.messenger ?? globalThis.browser) {
  const ask = experimentCaller(api, REASONS);

  return {
    /** True when this add-on runs with its Experiment (the answers may still be unavailable). */
    present() {
      return typeof api?.smaThunderbird?.getImapSettings === "function";
    },
    /**
     * {available: true, imap: true, type: "imap", host, port, security, username, auth,
     * reason?, detail?} | {available: true, imap: false, type, reason: "not_imap"} |
     * {available: false, reason, message}
     */
    imapSettings(accountId) {
      return ask("getImapSettings", [accountId], (settings) => settings);
    },
    /** {available: true, password: string | null} | {available: false, reason, message} */
    password(accountId) {
      return ask("getPassword", [accountId], (password) => ({ password: password ?? null }));
    },
    /** {available: true, accessToken} | {available: false, reason, message} */
    accessToken(accountId) {
      return ask("getAccessToken", [accountId], (accessToken) => ({ accessToken }));
    },
  };
}
