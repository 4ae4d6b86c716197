// The settings page (options/options.html and options.js) in jsdom, connected to a real
// controller through the real UI bridge, for the page tests. One page per test file: the
// page module is imported once.

import { readFileSync } from "node:fs";
import path from "node:path";
import { JSDOM } from "jsdom";

import { serveUi } from "../modules/ui-bridge.js";
import { EXT_DIR, flush, linkedRuntimes, silentLogger } from "./fakes.mjs";

/**
 * Start `controller`, open the page on it and wait until it rendered. The page re-renders
 * on state changes only (its one-second timer is left out).
 * Returns {doc, sectionOf(name)}: the document and an account's section by its title.
 */
export async function openOptionsPage(controller, getMessage, { rounds = 60 } = {}) {
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
  await flush(rounds);
  const sections = [...doc.querySelectorAll("#accounts [data-role=account]")];
  const sectionOf = (name) => sections.find((s) => s.querySelector("[data-role=title]").textContent.startsWith(name));
  return { doc, sectionOf };
}
