// The Thunderbird accounts the add-on lists, how a failed call is told, and the add-on's
// storage.local: per account its non-secret settings and markers
// (configured, joined, fromThunderbird), under "account:<id>". Never a password, token,
// secret key or passphrase, whatever a caller passes.

import { isMailAccount, storableSettings } from "./state.js";

export const STORAGE_PREFIX = "account:";

const SECRETS = Object.freeze(["password", "accessToken", "access_token", "armored", "passphrase"]);

/** The Thunderbird accounts the UI lists, with their identities' e-mail addresses. */
export async function listMailAccounts(accountsApi) {
  const list = await accountsApi.list(false);
  return (list || []).filter(isMailAccount).map((a) => ({
    id: a.id,
    name: a.name,
    type: a.type,
    emails: (a.identities || []).map((i) => i.email).filter(Boolean),
  }));
}

export function errorInfo(err, describe) {
  const data = (err && typeof err.data === "object" && err.data) || {};
  // Keep only the harmless, documented extras (never a param value).
  const keep = {};
  for (const k of ["reason", "credentials_missing", "host", "path", "method", "pairing_id", "muaa_id", "state"]) {
    if (data[k] !== undefined) keep[k] = data[k];
  }
  return {
    reason: (err && err.reason) || data.reason || "unknown",
    code: err && err.code !== undefined ? err.code : null,
    text: describe(err),
    data: keep,
  };
}

/** @param {object} storage storage.local-like */
export function createAccountStore(storage) {
  /** Every account's stored record: {accountId: record}. */
  async function loadAll() {
    const all = (await storage.get(null)) || {};
    const saved = {};
    for (const [k, v] of Object.entries(all)) {
      if (k.startsWith(STORAGE_PREFIX)) saved[k.slice(STORAGE_PREFIX.length)] = v;
    }
    return saved;
  }

  /** Merge `patch` into the account's record (settings flattened to their storable fields). */
  async function save(accountId, patch) {
    const key = STORAGE_PREFIX + accountId;
    const old = ((await storage.get(key)) || {})[key] || {};
    const value = { ...old, ...patch };
    if (patch.settings) {
      Object.assign(value, storableSettings(patch.settings));
      delete value.settings;
    }
    for (const secret of SECRETS) delete value[secret];
    await storage.set({ [key]: value });
  }

  return { loadAll, save };
}
