// The smaThunderbird Experiment: the only code of the add-on that touches Thunderbird's
// internals. It runs in Thunderbird's parent process with full privileges, so it stays
// small and narrow: fixed functions, each doing one thing for one account id (and one
// handing public keys to Thunderbird's collected keys). What each reads or writes and
// why: README.md next to this file.
//
// Nothing here stores, logs or caches what it returns. Errors are ExtensionErrors whose
// message starts with a stable code ("no_account: …"); modules/thunderbird-accounts.js and
// modules/thunderbird-openpgp.js turn them into values the add-on can show.

/* global ExtensionCommon, ExtensionUtils, Services, ChromeUtils, Cc, Ci, Cr */
"use strict";

var smaThunderbird = class extends ExtensionCommon.ExtensionAPI {
  getAPI(context) {
    const { ExtensionError } = ExtensionUtils;
    const fail = (code, sentence) => new ExtensionError(`${code}: ${sentence}`);

    /** A pure part (a classic script of the add-on's, README.md) into a fresh scope: its global. */
    function loadPure(file, name) {
      const scope = {};
      Services.scriptloader.loadSubScript(context.extension.rootURI.resolve(`experiments/${file}`), scope);
      return scope[name];
    }
    const mapping = loadPure("mapping.js", "smaMapping");
    const openpgp = loadPure("openpgp.js", "smaOpenPGP");

    /** A Thunderbird module, or an ExtensionError saying it is missing (another version). */
    function load(url) {
      try {
        return ChromeUtils.importESModule(url);
      } catch (e) {
        throw fail("unavailable", `this Thunderbird has no ${url}`);
      }
    }

    /** The account; the MailExtension account id is the account's key. */
    function account(accountId) {
      const { MailServices } = load("resource:///modules/MailServices.sys.mjs");
      const found = MailServices.accounts.getAccount(accountId);
      if (!found || !found.incomingServer) {
        throw fail("no_account", `Thunderbird has no account ${accountId}`);
      }
      return found;
    }

    function incomingServer(accountId) {
      return account(accountId).incomingServer;
    }

    /**
     * Secrets (credentials, the account's secret key) go only to the add-on's background,
     * which alone talks to sma-host: a page (options, popup) never holds one.
     */
    function backgroundOnly(what) {
      if (context.viewType !== "background") {
        throw fail("background_only", `only the add-on's background may ${what}`);
      }
    }

    /** Only IMAP servers' credentials are handed out: they are what sma-host logs in to. */
    function imapServerForCredentials(accountId) {
      backgroundOnly("ask for credentials");
      const server = incomingServer(accountId);
      if (server.type !== "imap") {
        throw fail("not_imap", `account ${accountId} is a ${server.type} account, not IMAP`);
      }
      return server;
    }

    /** Thunderbird's OpenPGP modules, RNP started (Thunderbird has usually done it already). */
    async function openPGP() {
      const modules = "chrome://openpgp/content/modules/";
      const { RNP } = load(`${modules}RNP.sys.mjs`);
      const { EnigmailKeyRing } = load(`${modules}keyRing.sys.mjs`);
      const { PgpSqliteDb2 } = load(`${modules}sqliteDb.sys.mjs`);
      const { CollectedKeysDB } = load(`${modules}CollectedKeysDB.sys.mjs`);
      if (!(await RNP.init())) {
        throw fail("unavailable", "Thunderbird's OpenPGP (librnp) is not loaded");
      }
      return { RNP, EnigmailKeyRing, PgpSqliteDb2, CollectedKeysDB };
    }

    /**
     * The key configured for an identity (its openpgp_key_id), if Thunderbird holds its
     * secret part; null otherwise, and for a key kept in external GnuPG, which is not in
     * Thunderbird's keyring.
     */
    function configuredKey(tb, identity) {
      if (!identity || identity.getBoolAttribute("is_gnupg_key_id")) return null;
      const keyId = identity.getUnicharAttribute("openpgp_key_id");
      if (!keyId) return null;
      const key = tb.EnigmailKeyRing.getKeyById(`0x${keyId}`);
      return key && key.secretAvailable ? key : null;
    }

    /**
     * Random bytes from NSS's generator, the source of crypto.getRandomValues: the
     * Experiment's global has no `crypto`, and importing it there would change a global
     * that Thunderbird's own API scripts share.
     */
    function randomBytes(count) {
      const generator = Cc["@mozilla.org/security/random-generator;1"].getService(Ci.nsIRandomGenerator);
      return Uint8Array.from(generator.generateRandomBytes(count));
    }

    /** Base64 (already checked by openpgp.collectedEntry) as the byte string RNP reads. */
    function byteString(base64) {
      try {
        const url = base64.replace(/\+/g, "-").replace(/\//g, "_");
        const bytes = new Uint8Array(ChromeUtils.base64URLDecode(url, { padding: "ignore" }));
        let out = "";
        for (let i = 0; i < bytes.length; i += 0x8000) {
          out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        }
        return out;
      } catch (e) {
        return null;
      }
    }

    return {
      smaThunderbird: {
        async getImapSettings(accountId) {
          const server = incomingServer(accountId);
          return mapping.imapSettings(
            {
              type: server.type,
              hostName: server.hostName,
              port: server.port,
              socketType: server.socketType,
              authMethod: server.authMethod,
              username: server.username,
            },
            { socketTypes: Ci.nsMsgSocketType, authMethods: Ci.nsMsgAuthMethod },
          );
        },

        async getPassword(accountId) {
          const server = imapServerForCredentials(accountId);
          // Thunderbird saves an IMAP password with origin and realm imap://<host>
          // (no port, no user) and picks the login by user name: the same lookup here.
          const origin = mapping.loginOrigin(server.hostName);
          let logins;
          try {
            // With a primary password set, this shows Thunderbird's own prompt.
            logins = await Services.logins.searchLoginsAsync({ origin, httpRealm: origin });
          } catch (e) {
            if (e && e.result === Cr.NS_ERROR_ABORT) {
              throw fail("primary_password_cancelled", "the primary password was not entered");
            }
            throw fail("unavailable", "Thunderbird's saved passwords could not be read");
          }
          const login = logins.find((l) => l.username === server.username);
          return login ? login.password : null;
        },

        async getAccessToken(accountId) {
          const server = imapServerForCredentials(accountId);
          if (server.authMethod !== Ci.nsMsgAuthMethod.OAuth2) {
            throw fail("not_oauth2", `account ${accountId} does not sign in with OAuth2`);
          }
          const { OAuth2Module } = load("resource:///modules/OAuth2Module.sys.mjs");
          const oauth = new OAuth2Module();
          if (!oauth.initFromMail(server)) {
            throw fail("oauth2_no_provider", `Thunderbird knows no OAuth2 provider for ${server.hostName}`);
          }
          // Uses the refresh token Thunderbird holds; without one (or when it is refused)
          // Thunderbird opens its own sign-in window, as when it logs in itself.
          return new Promise((resolve, reject) => {
            oauth.getAccessToken({
              onSuccess: (token) => resolve(token),
              onFailure: () => reject(fail("oauth2_failed", `Thunderbird got no access token for ${server.hostName}`)),
            });
          });
        },

        // ---- OpenPGP: the account's key into and out of Thunderbird's own OpenPGP --------

        async getIdentityKey(accountId) {
          const identity = account(accountId).defaultIdentity;
          const tb = await openPGP();
          return openpgp.identityKey(configuredKey(tb, identity));
        },

        async exportIdentityKey(accountId) {
          backgroundOnly("export the account's secret key");
          const identity = account(accountId).defaultIdentity;
          const tb = await openPGP();
          const key = configuredKey(tb, identity);
          if (!key) {
            throw fail("no_key", `account ${accountId} has no OpenPGP secret key in Thunderbird`);
          }
          // A fresh one-time passphrase: the copy leaves Thunderbird protected by it, and it
          // travels to the other devices only inside sma-host's sealed payload.
          const passphrase = openpgp.passphrase(randomBytes(32));
          // Thunderbird's own export (the Key Manager's "Backup Secret Key"): it unlocks the
          // key with the profile's automatic passphrase (or, for a key the user protected
          // themself, asks with Thunderbird's prompt) and re-protects the copy.
          const armored = await tb.RNP.backupSecretKeys([key.fpr], passphrase);
          if (!armored) {
            throw fail("export_failed", "Thunderbird could not unlock the key to export it");
          }
          return { armored, passphrase };
        },

        async installAccountKey(accountId, armored, passphrase) {
          backgroundOnly("install the account's secret key");
          const identity = account(accountId).defaultIdentity;
          if (!identity) {
            throw fail("no_identity", `account ${accountId} has no identity to use the key`);
          }
          const problem = openpgp.installInputProblem(armored, passphrase);
          if (problem) throw fail("invalid_key", problem);
          const tb = await openPGP();
          // Listed in a throw-away keyring first (nothing imported yet): one secret key.
          let listed = null;
          try {
            listed = await tb.RNP.getKeyListFromKeyBlockImpl(armored, false, true);
          } catch (e) {
            // RNP refused the block (malformed, too big): no key in it.
          }
          const wanted = openpgp.secretKeyOf(listed);
          if (wanted.problem) throw fail("invalid_key", wanted.problem);
          const { fingerprint, keyId } = wanted;
          const present = tb.EnigmailKeyRing.getKeyById(`0x${fingerprint}`);
          if (present && present.secretAvailable) return { fingerprint, alreadyPresent: true };

          // RNP asks this callback (synchronously) when the profile's own passphrase does not
          // unlock the key: the given passphrase once; asked again, it was wrong, and the
          // import is cancelled. Thunderbird's prompt is never shown.
          let asked = 0;
          const passCB = (win, promptString, flags) => {
            asked += 1;
            flags.canceled = asked > 1;
            return asked > 1 ? "" : passphrase;
          };
          // keepPassphrases false: Thunderbird re-protects the key with the profile's own
          // automatic passphrase, as for a key imported in its Key Manager.
          const result = await tb.RNP.importSecKeyBlockImpl(null, passCB, false, armored, [`0x${fingerprint}`]);
          if (asked > 1) throw fail("wrong_passphrase", "the passphrase does not unlock the key");
          if (!result || result.exitCode !== 0 || !result.importedKeys || !result.importedKeys.length) {
            throw fail("import_failed", "Thunderbird did not import the key");
          }
          // What Thunderbird's own import and account settings do next: refresh its key cache,
          // accept the key as the user's own, and use it for the identity.
          tb.EnigmailKeyRing.updateKeys(result.importedKeys);
          tb.EnigmailKeyRing.clearCache();
          await tb.PgpSqliteDb2.acceptAsPersonalKey(fingerprint);
          identity.setUnicharAttribute("openpgp_key_id", keyId);
          identity.setBoolAttribute("is_gnupg_key_id", false);
          return { fingerprint, alreadyPresent: false };
        },

        async addCollectedKeys(keys) {
          const tb = await openPGP();
          const db = await tb.CollectedKeysDB.getInstance();
          let stored = 0;
          for (const raw of keys.slice(0, openpgp.MAX_COLLECTED)) {
            const entry = openpgp.collectedEntry(raw);
            if (!entry) continue;
            const binary = byteString(entry.keydata);
            // Public key packets only: a secret key (or anything else) is not collected.
            if (!binary || openpgp.firstPacketTag(binary) !== openpgp.TAG_PUBLIC_KEY) continue;
            // Parsed in a throw-away keyring (nothing imported); withPubKey: the armored
            // public key, which is what Thunderbird stores for keys it collects itself.
            let listed;
            try {
              listed = await tb.RNP.getKeyListFromKeyBlockImpl(binary, true, false, true);
            } catch (e) {
              continue; // RNP refused it: not a key
            }
            const key = openpgp.publicKeyFor(listed, entry.email);
            if (!key || !key.pubKey) continue;
            // As Thunderbird does with Autocrypt keys: never a public key for an address the
            // user holds a secret key for (their own); the user accepts the rest in
            // Thunderbird's key assistant.
            if (await tb.EnigmailKeyRing.hasSecretKeyForEmail(entry.email)) continue;
            const merged = await db.mergeExisting(key, key.pubKey, {
              uri: "",
              type: "autocrypt",
              description: entry.description,
            });
            await db.storeKey(merged);
            stored += 1;
          }
          if (stored) Services.obs.notifyObservers(null, "openpgp-key-change");
          return stored;
        },
      },
    };
  }
};
