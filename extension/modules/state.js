// UI state: a pure reducer plus pure helpers. No browser API, no DOM, no I/O.
//
// One state object describes the host connection and, per Thunderbird account, the IMAP
// settings (never the password), the SMA (this device and the others), the pairings, and
// for every operation whether it is pending, its last error and its last success notice.
// Texts are message keys (+ substitutions) for _locales, except error texts, which
// host-port.js has already localized.
//
// This module is the one entry the rest of the add-on imports; the work is in state/, one
// module per concern, each with its helpers and its slice of the reducer.

export { emptyAccount, initialState, reducer } from "./state/reducer.js";
export { anyTargetStatus, isPending, opKey, opStatus } from "./state/operations.js";
export {
  DEFAULT_PORTS,
  SECURITY_VALUES,
  SETTINGS_FIELDS,
  buildConfigureParams,
  defaultSettings,
  guessImapSettings,
  isMailAccount,
  isValidAccountId,
  storableSettings,
  validateSettings,
} from "./state/settings.js";
export { devicesOf, isJoined, lastSeenText, removalLines, smaHint } from "./state/membership.js";
export {
  PAIR_FAILURE_REASONS,
  formatCountdown,
  incomingMessage,
  incomingPairings,
  isMuaaId,
  isValidPairingCode,
  normalizePairingCode,
  offersPairTarget,
  outgoingMessage,
  pairFailureKey,
  pairRequestParams,
  pairTargets,
  secondsLeft,
} from "./state/pairing.js";
export {
  MAX_ARMORED_LENGTH,
  MAX_KEYDATA_LENGTH,
  buildKeyEntry,
  isoDate,
  keyFileName,
  keydataFromInput,
  keyringRows,
  looksLikeArmoredSecretKey,
  validateKeyEntry,
} from "./state/keys.js";
export {
  groupedFingerprint,
  isoDay,
  keyCard,
  openpgpError,
  openpgpReasonKey,
  removedKeyNotice,
  sameFingerprint,
} from "./state/openpgp.js";
export { accountSummary, hostStatusMessage } from "./state/summary.js";
export {
  THUNDERBIRD_REASONS,
  buildThunderbirdConfigureParams,
  isImapAccount,
  settingsFromThunderbird,
  thunderbirdError,
  thunderbirdReasonKey,
  thunderbirdSetup,
} from "./state/thunderbird.js";
