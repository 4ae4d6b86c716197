// An account's IMAP settings (never the password): defaults, validation, storage, account.configure.

export const SECURITY_VALUES = Object.freeze(["tls", "starttls", "none"]);
export const DEFAULT_PORTS = Object.freeze({ tls: 993, starttls: 143, none: 143 });
const ACCOUNT_ID_RE = /^[A-Za-z0-9_.:@+-]{1,128}$/;
export const EMAIL_RE = /^[^@\s]{1,64}@[^@\s]{1,253}$/;
const HOST_RE = /^[^\s/]+$/;

/** The settings kept in storage (no password, ever). */
export const SETTINGS_FIELDS = Object.freeze([
  "email",
  "deviceName",
  "host",
  "port",
  "security",
  "username",
  "remember",
]);

/** Thunderbird's mail accounts: IMAP, POP3 and Local Folders ("none", or "local" from Thunderbird 128 on); not news or feeds. */
export function isMailAccount(account) {
  return Boolean(account) && ["imap", "pop3", "none", "local"].includes(account.type);
}

export function isValidAccountId(id) {
  return typeof id === "string" && ACCOUNT_ID_RE.test(id);
}

/** Guess IMAP settings from an e-mail address: imap.<domain>, 993, TLS, the address as user. */
export function guessImapSettings(email) {
  const at = typeof email === "string" ? email.lastIndexOf("@") : -1;
  if (at < 1 || at === email.length - 1) {
    return { host: "", port: DEFAULT_PORTS.tls, security: "tls", username: email || "" };
  }
  const domain = email.slice(at + 1).trim().toLowerCase();
  return { host: `imap.${domain}`, port: DEFAULT_PORTS.tls, security: "tls", username: email.trim() };
}

export function defaultSettings(email, deviceName) {
  return { email: email || "", deviceName: deviceName || "", remember: false, ...guessImapSettings(email) };
}

/** Keep only the storable fields; drops the password and anything unknown. */
export function storableSettings(settings) {
  const out = {};
  for (const field of SETTINGS_FIELDS) {
    if (settings && settings[field] !== undefined) out[field] = settings[field];
  }
  return out;
}

/**
 * Field errors of an IMAP settings form: {field: messageKey}. `password` is needed unless
 * the account is configured in this host session and nothing but the password is missing.
 */
export function validateSettings(settings, password, { passwordRequired = true } = {}) {
  const errors = {};
  const s = settings || {};
  if (!EMAIL_RE.test(String(s.email || ""))) errors.email = "fieldErrorEmail";
  const name = String(s.deviceName || "").trim();
  if (name.length < 1 || name.length > 64) errors.deviceName = "fieldErrorDeviceName";
  const host = String(s.host || "").trim();
  if (!host || host.length > 253 || !HOST_RE.test(host)) errors.host = "fieldErrorHost";
  const port = Number(s.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) errors.port = "fieldErrorPort";
  if (!SECURITY_VALUES.includes(s.security)) errors.security = "fieldErrorSecurity";
  const user = String(s.username || "");
  if (user.length < 1 || user.length > 320) errors.username = "fieldErrorUsername";
  if (passwordRequired && (typeof password !== "string" || password.length < 1 || password.length > 1024)) {
    errors.password = "fieldErrorPassword";
  }
  return errors;
}

/** The account.configure params (schema: account.configure.params.json, plus `remember`). */
export function buildConfigureParams(accountId, settings, password) {
  const imap = {
    host: String(settings.host).trim(),
    port: Number(settings.port),
    security: settings.security,
    username: String(settings.username),
    password,
  };
  return {
    account: accountId,
    email: String(settings.email).trim(),
    device_name: String(settings.deviceName).trim(),
    imap,
    remember: Boolean(settings.remember),
  };
}

// ---- the settings' slice of the reducer ---------------------------------------------

export const settingsOnSuccess = Object.freeze({
  configure(a, { params, result, notice }) {
    const settings = { ...a.settings, ...(params && params.settings ? storableSettings(params.settings) : {}) };
    const storage = (result && result.password_storage) || null;
    // The host says where the password is now: the OS keyring, or memory only.
    let key = "noticeConfigured";
    if (storage === "keyring") key = "noticeConfiguredRemembered";
    else if (settings.remember) key = "noticeConfiguredNoKeyring";
    return {
      ...a,
      configured: true,
      savedConfigured: true,
      fromThunderbird: Boolean(params && params.fromThunderbird),
      needsPassword: false,
      tokenNeeded: false,
      capabilities: (result && result.capabilities) || [],
      passwordStorage: storage,
      settings,
      notices: notice(key, [String(settings.host), String((result && result.keyring_unavailable) || "")]),
    };
  },
});

/**
 * A host that does not know the account (any more) needs account.configure. A manually
 * configured account then needs its password typed again; one set up from Thunderbird's
 * settings gets it from Thunderbird (the controller does that), so it never asks.
 */
export function settingsOnFailure(a, op, target, error) {
  if (error.reason !== "unknown_account") return a;
  const data = error.data || {};
  const missing = Boolean(data.credentials_missing) || a.savedConfigured;
  return { ...a, configured: false, needsPassword: missing && !a.fromThunderbird };
}
