import { localize } from "../modules/i18n.js";
import { INSTALL_COMMAND } from "../modules/host-port.js";

const api = globalThis.messenger ?? globalThis.browser;
localize(document, (key, subs) => api.i18n.getMessage(key, subs));
document.getElementById("install-command").textContent = INSTALL_COMMAND;
