// The background ↔ UI link over runtime.connect: the UI sends intents and gets replies,
// the background pushes every new state. Both halves take `runtime` by injection.

export const UI_PORT_NAME = "sma-ui";
/** While a page or popup is connected, `ui.active` goes to the host this often (the host
 * counts it for 60 s). */
export const UI_ACTIVE_INTERVAL_MS = 30_000;

/** Background half: serve every UI page that connects. */
export function serveUi(runtime, controller, { logger = console, clock = globalThis } = {}) {
  runtime.onConnect.addListener((port) => {
    if (port.name !== UI_PORT_NAME) return;
    let scheduled = false;
    let open = true;
    controller.uiActive?.();
    const beat = clock.setInterval(() => controller.uiActive?.(), UI_ACTIVE_INTERVAL_MS);
    beat?.unref?.(); // under Node (tests): a forgotten page must not keep the process alive
    const post = (message) => {
      if (!open) return;
      try {
        port.postMessage(message);
      } catch (e) {
        logger.warn?.("sma-host: UI port post failed", e);
      }
    };
    const push = () => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        post({ type: "state", state: controller.getState() });
      });
    };
    const unsubscribe = controller.subscribe(push);
    port.onDisconnect.addListener(() => {
      open = false;
      clock.clearInterval(beat);
      unsubscribe();
    });
    port.onMessage.addListener(async (message) => {
      if (!message || message.type !== "intent") return;
      let reply;
      try {
        reply = await controller.handleIntent(message.intent);
      } catch (e) {
        logger.error?.("sma-host: intent failed", e);
        reply = { ok: false, error: { reason: "internal_error", text: String((e && e.message) || e), data: {} } };
      }
      post({ type: "reply", id: message.id, reply });
    });
    post({ type: "state", state: controller.getState() });
  });
}

/** UI half: connect to the background; onState gets every state, send(intent) → reply. */
export function connectUi(runtime, { onState, onDisconnect = () => {} }) {
  const port = runtime.connect({ name: UI_PORT_NAME });
  const pending = new Map();
  let nextId = 1;
  let gone = false;
  port.onMessage.addListener((message) => {
    if (!message) return;
    if (message.type === "state") onState(message.state);
    if (message.type === "reply" && pending.has(message.id)) {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve(message.reply);
    }
  });
  port.onDisconnect.addListener(() => {
    gone = true;
    for (const resolve of pending.values()) {
      resolve({ ok: false, error: { reason: "ui_disconnected", text: "", data: {} } });
    }
    pending.clear();
    onDisconnect();
  });
  return {
    send(intent) {
      if (gone) return Promise.resolve({ ok: false, error: { reason: "ui_disconnected", text: "", data: {} } });
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        port.postMessage({ type: "intent", id, intent });
      });
    },
    disconnect() {
      gone = true;
      port.disconnect();
    },
  };
}
