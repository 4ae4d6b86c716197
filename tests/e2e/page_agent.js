// Frame script loaded into the tab that shows the add-on's page (tests/e2e/harness.py).
//
// It acts like a person in front of the page: it reads what is visible (innerText),
// scrolls an element into view and clicks its centre with a trusted mouse event, focuses a
// field by clicking it and types or pastes with trusted key events (Marionette's own
// Event.sys.mjs). It finds controls the way a person does: buttons by their accessible
// name, fields by their label text. It never calls the add-on's code or touches its state.
//
// Protocol: the chrome side sends "sma-e2e:call" {id, verb, args}; the reply is
// "sma-e2e:reply" {id, ok, value | error}.

/* global content, addMessageListener, sendAsyncMessage, ChromeUtils */
"use strict";

(() => {
  const { event: ev } = ChromeUtils.importESModule("chrome://remote/content/shared/webdriver/Event.sys.mjs");

  const doc = () => content.document;
  const norm = (s) => String(s ?? "").replace(/\s+/g, " ").trim();

  function visible(el) {
    if (!el || !el.isConnected) return false;
    if (el.closest("[hidden]")) return false;
    const rects = el.getClientRects();
    if (!rects.length) return false;
    const style = content.getComputedStyle(el);
    return style.visibility !== "hidden" && style.display !== "none";
  }

  function accessibleName(el) {
    const label = el.getAttribute("aria-label");
    if (label) return norm(label);
    return norm(el.textContent);
  }

  function within(spec) {
    if (!spec.within) return doc();
    const scope = doc().querySelector(spec.within);
    if (!scope) throw new Error(`no element matches ${spec.within}`);
    return scope;
  }

  /** Resolve {button}, {summary}, {link}, {label}, {selector} (optionally {within}) to one visible element. */
  function find(spec) {
    const scope = within(spec);
    let candidates;
    let what;
    if (spec.button !== undefined) {
      what = `button “${spec.button}”`;
      candidates = [...scope.querySelectorAll("button")].filter((b) => accessibleName(b) === spec.button);
    } else if (spec.summary !== undefined) {
      what = `disclosure “${spec.summary}”`;
      candidates = [...scope.querySelectorAll("summary")].filter((el) => accessibleName(el) === spec.summary);
    } else if (spec.link !== undefined) {
      what = `link “${spec.link}”`;
      candidates = [...scope.querySelectorAll("a")].filter((a) => accessibleName(a) === spec.link);
    } else if (spec.label !== undefined) {
      what = `field labelled “${spec.label}”`;
      candidates = [...scope.querySelectorAll("label")]
        .filter((l) => norm(l.textContent) === spec.label)
        .map((l) => l.control)
        .filter(Boolean);
    } else if (spec.selector !== undefined) {
      what = spec.selector;
      candidates = [...scope.querySelectorAll(spec.selector)];
    } else {
      throw new Error(`bad target ${JSON.stringify(spec)}`);
    }
    const shown = candidates.filter(visible);
    if (shown.length !== 1) {
      throw new Error(`${what}: ${shown.length} visible of ${candidates.length} found`);
    }
    return shown[0];
  }

  /** Scroll into view and click the centre with a trusted mouse event; check nothing covers it. */
  async function click(el) {
    el.scrollIntoView({ block: "center", inline: "center" });
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const hit = doc().elementFromPoint(x, y);
    if (!hit || (hit !== el && !el.contains(hit) && !(el.labels && [...el.labels].some((l) => l.contains(hit))))) {
      throw new Error(`something else is at the centre of the target: ${hit && hit.outerHTML.slice(0, 120)}`);
    }
    await ev.synthesizeMouseAtPoint(x, y, {}, content);
  }

  function key(k, modifiers = {}) {
    const printable = k.length === 1;
    const code = printable && /[a-z]/i.test(k) ? `Key${k.toUpperCase()}` : undefined;
    ev.sendSingleKey({ key: k, code, printable, ...modifiers }, content);
  }

  async function focusField(spec) {
    const el = find(spec);
    await click(el);
    if (doc().activeElement !== el) throw new Error(`clicking ${JSON.stringify(spec)} did not focus it`);
    return el;
  }

  function describe(el) {
    return {
      tag: el.tagName.toLowerCase(),
      text: norm(el.innerText ?? el.textContent),
      visible: visible(el),
      value: "value" in el ? String(el.value) : null,
      href: el.getAttribute("href"),
      download: el.getAttribute("download"),
      kind: el.dataset ? (el.dataset.kind ?? null) : null,
    };
  }

  const verbs = {
    /** What a person sees on the page (or in one element): rendered text. */
    text({ selector } = {}) {
      const el = selector ? doc().querySelector(selector) : doc().body;
      return el ? el.innerText : null;
    },
    ready() {
      return doc().readyState === "complete" && Boolean(doc().body);
    },
    query({ selector }) {
      return [...doc().querySelectorAll(selector)].map(describe);
    },
    /** Whether the disclosure whose summary is `spec.summary` is open. */
    isOpen(spec) {
      return find(spec).parentElement.open === true;
    },
    async click(spec) {
      await click(find(spec));
      return true;
    },
    /** Click the field, select what is in it, type `text` (replacing it). */
    async type(spec) {
      await focusField(spec);
      key("a", { ctrlKey: true });
      if (spec.text === "") key("Backspace");
      else ev.sendKeys(spec.text, content);
      return find(spec).value;
    },
    /** Click the field, select what is in it, press Ctrl+V (the clipboard is set from chrome). */
    async paste(spec) {
      await focusField(spec);
      key("a", { ctrlKey: true });
      key("v", { ctrlKey: true });
      return find(spec).value.length;
    },
    /** Focus a <select> through its label (as a click on the label does) and type to choose. */
    async choose(spec) {
      const select = find(spec);
      const label = [...select.labels].find(visible);
      if (!label) throw new Error("the select has no visible label");
      await click(label);
      if (doc().activeElement !== select) throw new Error("clicking the label did not focus the select");
      ev.sendKeys(spec.text, content);
      return select.options[select.selectedIndex].textContent;
    },
    /** The page's size, for a full-page screenshot. */
    size() {
      const e = doc().documentElement;
      return { width: e.scrollWidth, height: e.scrollHeight, dpr: content.devicePixelRatio };
    },
  };

  addMessageListener("sma-e2e:call", async (message) => {
    const { id, verb, args } = message.data;
    try {
      if (!verbs[verb]) throw new Error(`unknown verb ${verb}`);
      const value = await verbs[verb](args || {});
      sendAsyncMessage("sma-e2e:reply", { id, ok: true, value });
    } catch (e) {
      sendAsyncMessage("sma-e2e:reply", { id, ok: false, error: String((e && e.message) || e) });
    }
  });
})();
