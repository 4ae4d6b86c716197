"""A real, headless Thunderbird with the add-on, driven like a person through its page.

Recipe: ``/work/shared/notes/thunderbird-e2e.md``. Each :class:`Thunderbird` has its own
temp HOME (so ``sma-host install --user`` writes the host manifest where this Thunderbird
looks, ``$HOME/.mozilla/native-messaging-hosts``), its own profile (``user.js``: an IMAP
account on the test Dovecot that Thunderbird itself never logs in to, plus Local Folders)
and its own Marionette port. The add-on (the built XPI) is installed through Marionette;
its settings page is opened in a tab from chrome context, and ``page_agent.js`` (a frame
script in that tab) clicks and types with trusted events and reads the rendered text.

Everything Thunderbird prints goes to ``<artifacts>/<name>-thunderbird.log``, including
every console message (the add-on's ``console.log`` and the host's stderr, which
Thunderbird logs as ``stderr output from native app …``). Screenshots of the whole page
go to ``<artifacts>/<name>-NN-<step>.png``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

with warnings.catch_warnings():
    # mozinfo (a marionette_driver dependency) calls a deprecated distro function on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from marionette_driver.addons import Addons
    from marionette_driver.errors import MarionetteException
    from marionette_driver.marionette import Marionette

ROOT = Path(__file__).resolve().parents[2]
THUNDERBIRD = Path(os.environ.get("SMA_E2E_THUNDERBIRD", "/usr/lib/thunderbird/thunderbird"))
SMA_HOST = ROOT / ".venv" / "bin" / "sma-host"
ADDON_ID = "sma-host@autocrypt.org"
OPTIONS_PATH = "options/options.html"
AGENT_JS = Path(__file__).with_name("page_agent.js")
PROBE_JS = Path(__file__).with_name("background_probe.js")

START_TIMEOUT = 60.0  # Thunderbird up, the Marionette session open, the page loaded
WAIT_TIMEOUT = 45.0  # default for waiting on the page (IMAP round trips included)
POLL = 0.05

T = TypeVar("T")


class PageError(AssertionError):
    """The page did not do what a person expected (or an action could not be done)."""


@dataclass(frozen=True)
class MailAccount:
    """The IMAP account a profile holds (a Thunderbird account, as a user would set it up)."""

    email: str
    username: str
    host: str
    port: int  # plain IMAP (security "none" on loopback)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def profile_prefs(account: MailAccount, marionette_port: int, downloads: Path) -> dict[str, Any]:
    """user.js for an automated profile with one IMAP account and Local Folders.

    Thunderbird must not talk to the IMAP server itself (it has no password and would
    prompt): no login at startup, no new-mail check, no offline sync. It starts on the
    account's central page, not in a folder, so it never opens the inbox.
    """
    return {
        # Accounts: IMAP (account1) as the default account, and Local Folders.
        "mail.accountmanager.accounts": "account1,account2",
        "mail.accountmanager.defaultaccount": "account1",
        "mail.accountmanager.localfoldersserver": "server2",
        "mail.account.account1.server": "server1",
        "mail.account.account1.identities": "id1",
        "mail.identity.id1.useremail": account.email,
        "mail.identity.id1.fullName": "E2E Tester",
        "mail.identity.id1.valid": True,
        "mail.server.server1.type": "imap",
        "mail.server.server1.hostname": account.host,
        "mail.server.server1.port": account.port,
        "mail.server.server1.socketType": 0,
        "mail.server.server1.authMethod": 3,
        "mail.server.server1.userName": account.username,
        "mail.server.server1.name": account.email,
        "mail.server.server1.login_at_startup": False,
        "mail.server.server1.check_new_mail": False,
        "mail.server.server1.autosync_offline_stores": False,
        "mail.server.server1.offline_download": False,
        "mail.account.account2.server": "server2",
        "mail.server.server2.type": "none",
        "mail.server.server2.hostname": "Local Folders",
        "mail.server.server2.userName": "nobody",
        "mail.server.server2.name": "Local Folders",
        # Downloads go to ~/Downloads without asking (a common setting; no file picker).
        "browser.download.useDownloadDir": True,
        "browser.download.folderList": 2,
        "browser.download.dir": str(downloads),
        "browser.download.always_ask_before_handling_new_types": False,
        # Automation.
        "marionette.port": marionette_port,
        "devtools.console.stdout.content": True,
        "browser.dom.window.dump.enabled": True,
        # Hygiene: no first-run pages, telemetry, updates, default-client questions.
        "mail.rights.override": True,
        "mail.shell.checkDefaultClient": False,
        "mailnews.start_page.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False,
        "datareporting.healthreport.uploadEnabled": False,
        "toolkit.telemetry.reportingpolicy.firstRun": False,
        "app.update.disabledForTesting": True,
        "app.update.auto": False,
        "mail.provider.enabled": False,
        "mail.cloud_files.enabled": False,
        # Notifications as Thunderbird's own popup windows (no desktop notification daemon).
        "alerts.useSystemBackend": False,
    }


def wait_until(
    check: Callable[[], T | None],
    what: str,
    timeout: float = WAIT_TIMEOUT,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n--- what it showed ---\n{describe()}" if describe else ""
            raise PageError(f"timed out after {timeout:.0f} s waiting for: {what}{detail}")
        time.sleep(POLL)


class Thunderbird:
    """One Thunderbird process with its own HOME, profile and Marionette port."""

    def __init__(
        self,
        name: str,
        artifacts: Path,
        account: MailAccount,
        extra_prefs: dict[str, Any] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.artifacts = artifacts
        self.account = account
        self.extra_prefs = dict(extra_prefs or {})  # more accounts, network overrides
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sma-e2e-{name}-"))
        self.home = self.workdir / "home"
        self.profile = self.workdir / "profile"
        self.downloads = self.home / "Downloads"
        self.downloads.mkdir(parents=True)
        self.profile.mkdir()
        self.port = free_port()
        self.log_path = artifacts / f"{name}-thunderbird.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client: Marionette | None = None
        self._shots = itertools.count(1)
        self._log: Any = None
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "MOZ_HEADLESS": "1",
            "MOZ_CRASHREPORTER_DISABLE": "1",
            "SMA_HOST_LOG": os.environ.get("SMA_HOST_LOG", "INFO"),
        }
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            self.env.pop(var, None)  # the host's data dir follows HOME, per instance
        self.env.pop("SMA_HOST_DATA_DIR", None)
        self.env.pop("DISPLAY", None)
        self.env.update(extra_env or {})  # inherited by the host Thunderbird starts

    # ---- set-up ------------------------------------------------------------------------

    def install_host(self) -> str:
        """``sma-host install --user`` with this HOME, exactly as a user runs it (root: --force)."""
        cmd = [str(SMA_HOST), "install", "--user"]
        if os.geteuid() == 0:
            cmd.append("--force")
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}{done.stderr}")
        manifest = self.home / ".mozilla" / "native-messaging-hosts" / "org_autocrypt_sma_host.json"
        if not manifest.is_file():
            raise RuntimeError(f"sma-host install --user wrote no {manifest}: {done.stdout}")
        return done.stdout

    def spawn(self) -> None:
        """Write the profile and start the process (connect() waits for it)."""
        prefs = {**profile_prefs(self.account, self.port, self.downloads), **self.extra_prefs}
        with open(self.profile / "user.js", "w", encoding="utf-8") as f:
            for key, value in prefs.items():
                f.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                str(THUNDERBIRD),
                "--headless",
                "--marionette",
                "-remote-allow-system-access",
                "--no-remote",
                "--profile",
                str(self.profile),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
        )

    def connect(self, xpi: Path | None, *, permanent: bool = False) -> None:
        """Open the Marionette session, install the add-on (temporarily, or ``permanent``ly
        as a user installs the XPI, so that it and its storage survive a restart; ``None``:
        already installed), open its settings page."""
        wait_until(self._port_open, f"{self.name}: Marionette port {self.port}", START_TIMEOUT)
        self.client = Marionette(host="127.0.0.1", port=self.port, startup_timeout=START_TIMEOUT)
        self.client.start_session(timeout=START_TIMEOUT)
        self.client.set_context("chrome")
        self.client.timeout.script = WAIT_TIMEOUT
        self._watch_chrome()
        if xpi is not None:
            Addons(self.client).install(str(xpi), temp=not permanent)
        self._open_addon_page()

    def restart(self) -> None:
        """Quit Thunderbird (the host sees EOF and exits) and start it again on the same
        profile and HOME: a permanently installed add-on comes back with its storage, and a
        new host process starts that knows only what it stored itself."""
        assert self.client is not None and self.process is not None
        with contextlib.suppress(Exception):
            self.client._request_in_app_shutdown()
        self.process.wait(30)
        with contextlib.suppress(Exception):
            self.client.delete_session(send_request=False)
        self.client = None
        if self._log is not None:
            self._log.close()
        self.spawn()
        self.connect(None)

    def _port_open(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name}: Thunderbird exited with {self.process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return True

    def chrome(self, script: str, *args: Any) -> Any:
        assert self.client is not None
        return self.client.execute_script(script, script_args=list(args), sandbox="sma-e2e")

    def chrome_async(self, script: str, *args: Any) -> Any:
        assert self.client is not None
        return self.client.execute_async_script(
            script, script_args=list(args), sandbox="sma-e2e", new_sandbox=False
        )

    def _watch_chrome(self) -> None:
        """Every console message (host stderr, add-on errors) also to stdout, i.e. the log;
        every prompt Thunderbird opens (password prompts included) recorded and logged."""
        self.chrome(
            """
            const w = Services.wm.getMostRecentWindow("mail:3pane");
            const text = (m) => m instanceof Ci.nsIScriptError
              ? `${m.errorMessage} (${m.sourceName}:${m.lineNumber})` : m.message;
            const out = (m) => { try { w.dump(`[console] ${text(m)}\\n`); } catch (e) {} };
            for (const m of Services.console.getMessageArray() || []) out(m);
            Services.console.registerListener({ observe: out });
            w.smaE2ePrompts = [];
            const onPrompt = (subject, topic) => {
              let said = "";
              try {
                const doc = subject.document || subject.ownerDocument;
                said = (doc.getElementById("infoBody") || doc.documentElement).textContent;
              } catch (e) {}
              const entry = `${topic}: ${said.trim().slice(0, 300)}`;
              w.smaE2ePrompts.push(entry);
              w.dump(`[prompt] ${entry}\\n`);
            };
            Services.obs.addObserver(onPrompt, "common-dialog-loaded");
            Services.obs.addObserver(onPrompt, "tabmodal-dialog-loaded");
            """
        )

    def _open_addon_page(self) -> None:
        url = self.chrome(
            """
            const [addonId, path] = arguments;
            const policy = WebExtensionPolicy.getByID(addonId);
            if (!policy) throw new Error("the add-on is not installed");
            const w = Services.wm.getMostRecentWindow("mail:3pane");
            const url = policy.getURL(path);
            w.smaE2eBrowser = w.gTabmail.openTab("contentTab", {url}).browser;
            return url;
            """,
            ADDON_ID,
            OPTIONS_PATH,
        )
        # The tab's browser moves to the extension process while it loads: the frame
        # script goes in once the page is there (a script loaded earlier stays behind).
        wait_until(
            lambda: self.chrome(
                """
                const b = Services.wm.getMostRecentWindow("mail:3pane").smaE2eBrowser;
                return b.currentURI.spec === arguments[0] && b.remoteType === "extension"
                  && !b.webProgress.isLoadingDocument;
                """,
                url,
            ),
            f"{self.name}: the add-on page loaded",
            START_TIMEOUT,
        )
        agent = "data:," + _quote(AGENT_JS.read_text("utf-8"))
        self.chrome(
            """
            const b = Services.wm.getMostRecentWindow("mail:3pane").smaE2eBrowser;
            b.messageManager.loadFrameScript(arguments[0], false);
            """,
            agent,
        )
        wait_until(lambda: self._try("ready"), f"{self.name}: the page ready", START_TIMEOUT)

    # ---- the page ----------------------------------------------------------------------

    def _call(self, verb: str, args: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        return self._message("smaE2eBrowser", "sma-e2e", verb, args, timeout)

    def _message(
        self, browser: str, prefix: str, verb: str, args: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Send ``prefix:call`` to the frame script in the window's ``browser``, await ``prefix:reply``."""
        reply = self.chrome_async(
            """
            const [browser, prefix, verb, args, timeoutMs, resolve] = arguments;
            const w = Services.wm.getMostRecentWindow("mail:3pane");
            const mm = w[browser].messageManager;
            const id = `${Date.now()}-${Math.random()}`;
            let timer = null;
            const listener = (m) => {
              if (m.data.id !== id) return;
              mm.removeMessageListener(`${prefix}:reply`, listener);
              w.clearTimeout(timer);
              resolve(m.data);
            };
            mm.addMessageListener(`${prefix}:reply`, listener);
            timer = w.setTimeout(() => {
              mm.removeMessageListener(`${prefix}:reply`, listener);
              resolve({id, ok: false, error: `no answer from the page within ${timeoutMs} ms`});
            }, timeoutMs);
            mm.sendAsyncMessage(`${prefix}:call`, {id, verb, args});
            """,
            browser,
            prefix,
            verb,
            args,
            int(timeout * 1000),
        )
        return dict(reply)

    def _try(self, verb: str, **args: Any) -> Any:
        """A page call that may fail (page not there yet): its value, or None."""
        try:
            reply = self._call(verb, args, timeout=1.0)
        except Exception:  # the page is still loading: the caller polls
            return None
        return reply.get("value") if reply.get("ok") else None

    def page(self, verb: str, **args: Any) -> Any:
        reply = self._call(verb, args)
        if not reply.get("ok"):
            raise PageError(f"{self.name}: {verb} {args}: {reply.get('error')}")
        return reply.get("value")

    # ---- Thunderbird's own state, as a user would leave it -------------------------------

    def save_login(self, origin: str, realm: str, username: str, password: str) -> None:
        """A login in Thunderbird's password manager, as Thunderbird saves one (an IMAP
        password: origin and realm ``imap://<host>``; an OAuth2 refresh token: origin
        ``oauth://<issuer>``, realm the scope)."""
        added = self.chrome_async(
            """
            const [origin, realm, username, password, resolve] = arguments;
            const login = Cc["@mozilla.org/login-manager/loginInfo;1"].createInstance(Ci.nsILoginInfo);
            login.init(origin, null, realm, username, password, "", "");
            Services.logins.addLoginAsync(login).then(() => resolve(true), (e) => resolve(String(e)));
            """,
            origin,
            realm,
            username,
            password,
        )
        if added is not True:
            raise RuntimeError(f"{self.name}: the login for {origin} was not saved: {added}")

    def set_primary_password(self, password: str) -> None:
        """Lock the saved passwords with a primary password, then log out of it (as after
        a restart): the next read shows Thunderbird's prompt."""
        self.chrome(
            """
            const token = Cc["@mozilla.org/security/pk11tokendb;1"]
              .getService(Ci.nsIPK11TokenDB).getInternalKeyToken();
            if (token.needsUserInit) token.initPassword(arguments[0]);
            else token.changePassword("", arguments[0]);
            token.logoutSimple();
            """,
            password,
        )

    def answer_next_prompt(self, answer: str | None) -> None:
        """The next prompt Thunderbird opens is answered like a person: cancelled (None) or
        with ``answer`` typed and OK pressed."""
        self.chrome(
            """
            const answer = arguments[0];
            const w = Services.wm.getMostRecentWindow("mail:3pane");
            if (w.smaE2eAnswer) Services.obs.removeObserver(w.smaE2eAnswer, "common-dialog-loaded");
            w.smaE2eAnswer = (dialogWindow) => {
              Services.obs.removeObserver(w.smaE2eAnswer, "common-dialog-loaded");
              w.smaE2eAnswer = null;
              const doc = dialogWindow.document;
              dialogWindow.setTimeout(() => {
                const dialog = doc.getElementById("commonDialog");
                if (answer === null) return dialog.cancelDialog();
                doc.getElementById("password1Textbox").value = answer;
                dialog.acceptDialog();
              }, 0);
            };
            Services.obs.addObserver(w.smaE2eAnswer, "common-dialog-loaded");
            """,
            answer,
        )

    def trust_ca(self, der_base64: str) -> None:
        """Trust a test CA for TLS servers in this profile (a user importing it)."""
        self.chrome(
            """
            Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB)
              .addCertFromBase64(arguments[0], "CT,C,C");
            """,
            der_base64,
        )

    # ---- the add-on's background (Experiment scenarios) ---------------------------------

    # Where background_probe.js goes: the window property holding that <browser>.
    _PROBE_BROWSERS = {"background": "smaE2eBackground", "page": "smaE2eBrowser"}

    def load_probe(self, into: str = "background") -> None:
        """``background_probe.js`` into the add-on's background page (its event page), or
        into its settings page (``into="page"``) to see what a page is refused."""
        if into == "background":
            self.chrome(
                """
                const ext = WebExtensionPolicy.getByID(arguments[0]).extension;
                const view = [...ext.views].find((v) => v.viewType === "background");
                if (!view || !view.xulBrowser) throw new Error("the add-on's background is not running");
                Services.wm.getMostRecentWindow("mail:3pane").smaE2eBackground = view.xulBrowser;
                """,
                ADDON_ID,
            )
        self.chrome(
            """
            const [browser, script] = arguments;
            Services.wm.getMostRecentWindow("mail:3pane")[browser].messageManager
              .loadFrameScript(script, false);
            """,
            self._PROBE_BROWSERS[into],
            "data:," + _quote(PROBE_JS.read_text("utf-8")),
        )

        def ready() -> bool:
            try:
                return bool(self._probe_message(into, "ready", {}, 1.0).get("value"))
            except PageError:  # the script is not there yet
                return False

        wait_until(ready, f"{self.name}: the probe ready in the {into}")

    def _probe_message(
        self, where: str, verb: str, args: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Post the call, then poll for its reply. Unlike ``_message`` this survives a
        prompt opening meanwhile (the primary password's): Marionette ends a running
        script when a modal dialog opens."""
        key = self.chrome(
            """
            const [browser, verb, args] = arguments;
            const w = Services.wm.getMostRecentWindow("mail:3pane");
            const mm = w[browser].messageManager;
            w.smaE2eReplies = w.smaE2eReplies || {};
            const id = `${Date.now()}-${Math.random()}`;
            const listener = (m) => {
              if (m.data.id !== id) return;
              mm.removeMessageListener("sma-e2e-probe:reply", listener);
              w.smaE2eReplies[id] = m.data;
            };
            mm.addMessageListener("sma-e2e-probe:reply", listener);
            mm.sendAsyncMessage("sma-e2e-probe:call", {id, verb, args});
            return id;
            """,
            self._PROBE_BROWSERS[where],
            verb,
            args,
        )

        def reply() -> dict[str, Any] | None:
            try:
                return self.chrome(
                    """
                    const w = Services.wm.getMostRecentWindow("mail:3pane");
                    const reply = w.smaE2eReplies[arguments[0]] || null;
                    delete w.smaE2eReplies[arguments[0]];
                    return reply;
                    """,
                    key,
                )
            except MarionetteException:  # a prompt is open just now
                return None

        return dict(wait_until(reply, f"{self.name}: the probe's answer to {verb}", timeout))

    def probe(self, verb: str, where: str = "background", **args: Any) -> Any:
        """A verb of the probe. Its failure message leaves the arguments out: they may hold
        a secret's hash, never needed to understand the failure."""
        reply = self._probe_message(where, verb, args, WAIT_TIMEOUT)
        if not reply.get("ok"):
            raise PageError(f"{self.name}: probe {verb} in the {where}: {reply.get('error')}")
        return reply.get("value")

    def storage_local(self) -> str:
        """The add-on's storage.local as JSON text (read from chrome, as the notes show)."""
        return str(
            self.chrome_async(
                """
                const [addonId, resolve] = arguments;
                const { ExtensionStorageIDB } = ChromeUtils.importESModule(
                  "resource://gre/modules/ExtensionStorageIDB.sys.mjs");
                const ext = WebExtensionPolicy.getByID(addonId).extension;
                ExtensionStorageIDB.open(ExtensionStorageIDB.getStoragePrincipal(ext))
                  .then((db) => db.get(null))
                  .then((all) => resolve(JSON.stringify(all)), (e) => resolve(`error: ${e}`));
                """,
                ADDON_ID,
            )
        )

    def expand(self, summary: str, **scope: str) -> None:
        """Open the disclosure (``<details>``) whose summary reads ``summary``, as a person
        clicks it; nothing when it is open already."""
        if not self.page("isOpen", summary=summary, **scope):
            self.click(summary=summary, **scope)
            self.wait_for(
                lambda: self.page("isOpen", summary=summary, **scope), f"“{summary}” opened"
            )

    def text(self, selector: str | None = None) -> str:
        value = self.page("text", selector=selector) if selector else self.page("text")
        return str(value or "")

    def query(self, selector: str) -> list[dict[str, Any]]:
        return list(self.page("query", selector=selector))

    def click(self, **target: str) -> None:
        self.page("click", **target)

    def type(self, label: str, text: str, **scope: str) -> None:
        value = self.page("type", label=label, text=text, **scope)
        if value != text:
            raise PageError(f"{self.name}: typed {text!r} into “{label}” but it holds {value!r}")

    def choose(self, label: str, text: str) -> str:
        return str(self.page("choose", label=label, text=text))

    def paste(self, label: str, text: str) -> None:
        self.chrome(
            """
            Cc["@mozilla.org/widget/clipboardhelper;1"]
              .getService(Ci.nsIClipboardHelper).copyString(arguments[0]);
            """,
            text,
        )
        length = self.page("paste", label=label)
        if length != len(text):
            raise PageError(f"{self.name}: pasted {len(text)} characters, the field holds {length}")

    def wait_text(self, *needles: str, timeout: float = WAIT_TIMEOUT) -> str:
        """Wait until the visible page text contains every one of ``needles``."""
        return wait_until(
            lambda: (t := self.text()) and all(n in t for n in needles) and t,
            f"{self.name}: the page to show {needles!r}",
            timeout,
            describe=self.text,
        )

    def wait_for(
        self, check: Callable[[], T | None], what: str, timeout: float = WAIT_TIMEOUT
    ) -> T:
        return wait_until(check, f"{self.name}: {what}", timeout, describe=self.text)

    def screenshot(self, step: str) -> Path:
        """The whole page (not only the visible part) as PNG; the window if that fails."""
        path = self.artifacts / f"{self.name}-{next(self._shots):02d}-{step}.png"
        try:
            size = self.page("size")
            data_url = self.chrome_async(
                """
                const [width, height, resolve] = arguments;
                const w = Services.wm.getMostRecentWindow("mail:3pane");
                const wg = w.smaE2eBrowser.browsingContext.currentWindowGlobal;
                wg.drawSnapshot(new w.DOMRect(0, 0, width, height), 1, "white").then((bitmap) => {
                  const c = w.document.createElementNS("http://www.w3.org/1999/xhtml", "canvas");
                  c.width = bitmap.width;
                  c.height = bitmap.height;
                  c.getContext("2d").drawImage(bitmap, 0, 0);
                  resolve(c.toDataURL("image/png"));
                }, (e) => resolve("error:" + e));
                """,
                int(size["width"]),
                min(int(size["height"]), 12000),
            )
            if not str(data_url).startswith("data:image/png;base64,"):
                raise PageError(str(data_url))
            path.write_bytes(base64.b64decode(str(data_url).split(",", 1)[1]))
        except Exception:
            assert self.client is not None
            path.write_bytes(self.client.screenshot(format="binary"))
        return path

    def windows(self) -> list[str]:
        """Every open top-level window as ``<windowtype> <title>``."""
        return list(
            self.chrome(
                """
                const out = [];
                for (const w of Services.wm.getEnumerator(null)) {
                  const type = w.document.documentElement.getAttribute("windowtype");
                  out.push(`${type} ${w.document.title}`);
                }
                return out;
                """
            )
        )

    def prompts(self) -> list[str]:
        """Every prompt Thunderbird has opened since start (window, tab or window-modal)."""
        return list(
            self.chrome('return Services.wm.getMostRecentWindow("mail:3pane").smaE2ePrompts;')
        )

    def notifications(self) -> list[tuple[str, str]]:
        """The notifications on screen (Thunderbird's own popups: alerts.useSystemBackend
        is off, as there is no desktop): (title, text) each."""
        return [
            (str(title), str(text))
            for title, text in self.chrome(
                """
                const out = [];
                for (const w of Services.wm.getEnumerator("alert:alert")) {
                  const label = (id) => {
                    const el = w.document.getElementById(id);
                    return el ? (el.getAttribute("value") || el.textContent || "") : "";
                  };
                  out.push([label("alertTitleLabel"), label("alertTextLabel")]);
                }
                return out;
                """
            )
        ]

    def wait_download(self, name: str, timeout: float = WAIT_TIMEOUT) -> bytes:
        """The bytes of ``~/Downloads/<name>`` once Thunderbird has finished writing it."""
        path = self.downloads / name

        def done() -> bool:
            return path.is_file() and not any(self.downloads.glob("*.part"))

        self.wait_for(done, f"the download {path}", timeout)
        return path.read_bytes()

    # ---- teardown ----------------------------------------------------------------------

    def stop(self) -> None:
        """Quit through Marionette (the host sees EOF), then kill the pid whatever happened."""
        try:
            if self.client is not None and self.process is not None and self.process.poll() is None:
                with contextlib.suppress(Exception):
                    self.client._request_in_app_shutdown()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(10)
        finally:
            if self.client is not None:
                with contextlib.suppress(Exception):
                    self.client.delete_session(send_request=False)
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
            if self._log is not None:
                self._log.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def extract_host_stderr(self) -> None:
        """The host's stderr lines from Thunderbird's output, into their own file."""
        if not self.log_path.is_file():
            return
        marker = "stderr output from native app org_autocrypt_sma_host: "
        lines = [
            line.split(marker, 1)[1]
            for line in self.log_path.read_text("utf-8", "replace").splitlines()
            if marker in line
        ]
        (self.artifacts / f"{self.name}-host-stderr.log").write_text(
            "".join(f"{line}\n" for line in lines), "utf-8"
        )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
