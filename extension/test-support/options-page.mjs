// The settings page (options/options.html and options.js) in jsdom, connected to a real
// controller through the real UI bridge, for the page tests. One page per test file: the
// page module is imported once.

import { readFileSync } from "node:fs";
import path from "node:path";
import { JSDOM } from "jsdom";

import { serveUi } from "../modules/ui-bridge.js";
import { EXT_DIR, linkedRuntimes, settled, silentLogger, waitFor } from "./fakes.mjs";

/**
 * Start `controller`, open the page on it and wait until it rendered a section per account
 * and `ready({doc, sectionOf})` holds. The page re-renders on state changes only (its
 * one-second timer is left out).
 * Returns {doc, sectionOf(name), settle()}: the document, an account's section by its title,
 * and a wait until nothing is in flight (fakes.mjs settled(); needs `host`, the HostPort).
 */
export async function openOptionsPage(controller, getMessage, { ready = () => true, host } = {}) {
  const dom = new JSDOM(readFileSync(path.join(EXT_DIR, "options", "options.html"), "utf8"), { url: "http://localhost/options/options.html" });
  const { background, page } = linkedRuntimes();
  serveUi(background, controller, { logger: silentLogger });
  await controller.start();
  const doc = dom.window.document;
  Object.assign(globalThis, {
    window: dom.window,
    document: doc,
    navigator: { clipboard: { writeText: async () => {} } },
    messenger: { i18n: { getMessage }, runtime: page },
    setInterval: () => 0,
  });
  await import("../options/options.js");
  const sections = () => [...doc.querySelectorAll("#accounts [data-role=account]")];
  const sectionOf = (name) => sections().find((s) => s.querySelector("[data-role=title]").textContent.startsWith(name));
  await waitFor(() => sections().length === controller.getState().order.length && ready({ doc, sectionOf }), {
    message: "the settings page rendered every account and was ready",
  });
  const settle = () => settled(host, page, controller);
  if (host) await settle();
  return { doc, sectionOf, settle };
}
