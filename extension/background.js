// Background event page: owns the one connection to sma-host (modules/host-port.js), the
// controller that keeps the UI state, and the browser notifications. The options page and
// the popup talk to it through modules/ui-bridge.js.

import { HostPort } from "./modules/host-port.js";
import { createController } from "./modules/controller.js";
import { createThunderbirdAccounts } from "./modules/thunderbird-accounts.js";
import { createThunderbirdOpenPGP } from "./modules/thunderbird-openpgp.js";
import { serveUi } from "./modules/ui-bridge.js";

const api = globalThis.messenger ?? globalThis.browser;
const getMessage = (key, subs) => api.i18n.getMessage(key, subs);

// While the host runs, a cheap hello every 25 s keeps this event page (and so the host,
// whose watcher delivers push notifications) alive. Whether an open native port alone
// keeps an MV3 event page alive is not documented.
const KEEPALIVE_MS = 25_000;

async function platformDeviceName() {
  let os = "other";
  try {
    os = (await api.runtime.getPlatformInfo()).os;
  } catch (e) {
    console.warn("sma-host: no platform info", e);
  }
  const osName = getMessage(`os_${os}`) || getMessage("os_other");
  return getMessage("defaultDeviceName", [osName]);
}

function notify({ id, titleKey, messageKey, subs }) {
  api.notifications
    .create(id, {
      type: "basic",
      iconUrl: api.runtime.getURL("icons/sma.svg"),
      title: getMessage(titleKey, subs),
      message: getMessage(messageKey, subs),
    })
    .catch((e) => console.error("sma-host: notification failed", e));
}

const host = new HostPort({ runtime: api.runtime, getMessage });
const controller = createController({
  host,
  storage: api.storage.local,
  accounts: api.accounts,
  notify,
  thunderbird: createThunderbirdAccounts(api),
  openpgp: createThunderbirdOpenPGP(api),
  deviceName: platformDeviceName,
});

// Listeners are added at the top level, synchronously, so that events wake the page.
serveUi(api.runtime, controller);
api.notifications.onClicked.addListener(() => api.runtime.openOptionsPage());
// New mail in an account (Thunderbird's inbox folders): sma-host reads its Autocrypt headers (mail.scan).
api.messages.onNewMailReceived.addListener((folder) => {
  if (folder && folder.accountId) controller.newMail(folder.accountId).catch((e) => console.warn("sma-host: mail.scan failed", e));
});

controller.start().catch((e) => console.error("sma-host: start failed", e));

setInterval(() => {
  if (host.state === "connected") {
    host.call("hello", {}).catch((e) => console.warn("sma-host: keep-alive hello failed", e.reason));
  }
}, KEEPALIVE_MS);
