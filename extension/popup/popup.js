// The toolbar popup: host status and one line per account; the work happens on the
// settings page (options.html).

import { localize, t } from "../modules/i18n.js";
import { connectUi } from "../modules/ui-bridge.js";
import { accountSummary, hostStatusMessage, isImapAccount } from "../modules/state.js";

const api = globalThis.messenger ?? globalThis.browser;
const getMessage = (key, subs) => api.i18n.getMessage(key, subs);
const msg = (key, subs) => t(getMessage, key, subs);

function render(state) {
  const said = hostStatusMessage(state.host);
  document.getElementById("host-status").textContent = msg(said.key, said.subs);
  document.getElementById("host-missing").hidden = state.host.state !== "host_missing";
  document.getElementById("install-command").textContent = state.host.installCommand;
  const list = document.getElementById("accounts");
  // POP3 and Local Folders accounts have nothing to set up: the settings page says why.
  const imapAccounts = state.order.map((id) => state.byId[id]).filter(isImapAccount);
  const items = imapAccounts.map((account) => {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = account.settings.email || account.name;
    const summary = accountSummary(account);
    li.append(name, document.createElement("br"), msg(summary.key, summary.subs));
    return li;
  });
  list.replaceChildren(...items);
}

localize(document, getMessage);
document.getElementById("open-options").addEventListener("click", async () => {
  await api.runtime.openOptionsPage();
  window.close();
});
connectUi(api.runtime, { onState: render });
