// Fills the UI's texts from _locales: elements carry data-i18n="key" (text content) and
// data-i18n-<attribute>="key" for aria-label, title, placeholder and alt.

export const I18N_ATTRIBUTES = Object.freeze(["aria-label", "title", "placeholder", "alt"]);

/** getMessage(key, subs), or the key itself when the message is missing (visible in testing). */
export function t(getMessage, key, subs = []) {
  const text = getMessage(key, subs);
  return text || key;
}

export function localize(root, getMessage) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(getMessage, el.getAttribute("data-i18n"));
  }
  for (const attr of I18N_ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(getMessage, el.getAttribute(`data-i18n-${attr}`)));
    }
  }
}
