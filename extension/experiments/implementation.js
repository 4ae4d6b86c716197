// The smaThunderbird Experiment: the only code of the add-on that touches Thunderbird's
// internals. It runs in Thunderbird's parent process with full privileges, so it stays
// small and narrow: three functions, each reading one thing for one account id.
// What each reads and why: README.md next to this file.
//
// Nothing here stores, logs or caches what it returns. Errors are ExtensionErrors whose
// message starts with a stable code ("no_account: …"); modules/thunderbird-accounts.js
// turns them into values the add-on can show.

/* global ExtensionCommon, ExtensionUtils, Services, ChromeUtils, Ci, Cr */
"use strict";

var smaThunderbird = class extends ExtensionCommon.ExtensionAPI {
  getAPI(context) {
    const { ExtensionError } = ExtensionUtils;
    const fail = (code, sentence) => new ExtensionError(`${code}: ${sentence}`);

    // The pure mapping (mapping.js), loaded from the add-on's own files into a fresh scope.
    const scope = {};
    Services.scriptloader.loadSubScript(context.extension.rootURI.resolve("experiments/mapping.js"), scope);
    const mapping = scope.smaMapping;

    /** A Thunderbird module, or an ExtensionError saying it is missing (another version). */
    function load(url) {
      try {
        return ChromeUtils.importESModule(url);
      } catch (e) {
        throw fail("unavailable", `this Thunderbird has no ${url}`);
      }
    }

    /** The account's incoming server; the MailExtension account id is the account's key. */
    function incomingServer(accountId) {
      const { MailServices } = load("resource:///modules/MailServices.sys.mjs");
      const account = MailServices.accounts.getAccount(accountId);
      if (!account || !account.incomingServer) {
        throw fail("no_account", `Thunderbird has no account ${accountId}`);
      }
      return account.incomingServer;
    }

    /**
     * Credentials go only to the add-on's background, which alone talks to sma-host:
     * a page (options, popup) never holds a password or token. And only IMAP servers'
     * credentials are handed out: they are what sma-host logs in to.
     */
    function imapServerForCredentials(accountId) {
      if (context.viewType !== "background") {
        throw fail("background_only", "only the add-on's background may ask for credentials");
      }
      const server = incomingServer(accountId);
      if (server.type !== "imap") {
        throw fail("not_imap", `account ${accountId} is a ${server.type} account, not IMAP`);
      }
      return server;
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
      },
    };
  }
};
