// The pure part of the smaThunderbird Experiment: Thunderbird's incoming-server values in,
// sma-host's words out. No Thunderbird internals are touched here.
//
// A classic script, not an ES module: a parent-process Experiment can import ES modules only
// from resource:// or chrome:// URLs ("System modules must be loaded from a trusted scheme"),
// and the add-on's files are file:// or jar:file:// URLs (see README.md). implementation.js
// loads this file with Services.scriptloader.loadSubScript(url, scope) and the Node tests
// with node:vm; both read the one global it declares, `smaMapping`.
//
// Thunderbird's constants come in as arguments (Ci.nsMsgSocketType, Ci.nsMsgAuthMethod in
// Thunderbird, plain objects in the tests), so no internal number is written down here.

/* exported smaMapping */
"use strict";

// eslint-disable-next-line no-var
var smaMapping = (() => {
  /** The constant's name for a value ("GSSAPI"), for a reason a person can act on. */
  function nameOf(constants, value) {
    return Object.keys(constants).find((key) => constants[key] === value) ?? String(value);
  }

  /** Ci.nsMsgSocketType → "tls" | "starttls" | "none" | "unsupported". */
  function security(socketType, socketTypes) {
    if (socketType === socketTypes.SSL) return "tls";
    if (socketType === socketTypes.alwaysSTARTTLS) return "starttls";
    if (socketType === socketTypes.plain) return "none";
    return "unsupported"; // e.g. the old "STARTTLS if available", gone from Thunderbird 140
  }

  /** Ci.nsMsgAuthMethod → "password" | "oauth2" | "unsupported". */
  function auth(authMethod, authMethods) {
    // Cleartext and encrypted (CRAM-MD5) password both mean "Thunderbird has a password".
    if (authMethod === authMethods.passwordCleartext || authMethod === authMethods.passwordEncrypted) {
      return "password";
    }
    if (authMethod === authMethods.OAuth2) return "oauth2";
    return "unsupported"; // Kerberos/GSSAPI, NTLM, TLS certificate, none: sma-host has no way to log in
  }

  /**
   * What getImapSettings answers for an incoming server.
   *
   * @param {{type: string, hostName: string, port: number, socketType: number,
   *          authMethod: number, username: string}} server the server's plain values
   * @param {{socketTypes: object, authMethods: object}} constants Thunderbird's enums
   */
  function imapSettings(server, { socketTypes, authMethods }) {
    if (server.type !== "imap") {
      return { imap: false, type: server.type, reason: "not_imap" };
    }
    const result = {
      imap: true,
      type: "imap",
      host: server.hostName,
      port: server.port,
      security: security(server.socketType, socketTypes),
      username: server.username,
      auth: auth(server.authMethod, authMethods),
    };
    if (result.security === "unsupported") {
      result.reason = "security_unsupported";
      result.detail = nameOf(socketTypes, server.socketType);
    } else if (result.auth === "unsupported") {
      result.reason = "auth_unsupported";
      result.detail = nameOf(authMethods, server.authMethod);
    }
    return result;
  }

  /**
   * The password manager's origin (and realm) of an IMAP server's saved password, built as
   * Thunderbird builds it (MsgIncomingServer._getServerURI(false)): no user, no port,
   * an IPv6 address in brackets, the host URI-encoded.
   */
  function loginOrigin(hostName) {
    const host = hostName.includes(":") ? `[${hostName}]` : hostName;
    return `imap://${encodeURIComponent(host)}`;
  }

  return Object.freeze({ security, auth, imapSettings, loginOrigin });
})();
