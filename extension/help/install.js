import { localize } from "../modules/i18n.js";
import { DOCTOR_COMMAND, INSTALL_COMMAND } from "../modules/host-port.js";

const api = globalThis.messenger ?? globalThis.browser;
localize(document, (key, subs) => api.i18n.getMessage(key, subs));
document.getElementById("install-command").textContent = INSTALL_COMMAND;
document.getElementById("doctor-command").textContent = DOCTOR_COMMAND;
