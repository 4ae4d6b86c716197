// Small DOM helpers of the settings page: text, visibility, lookup, ids of cloned templates, busy buttons.

/** Set the text only when it differs, so a screen reader does not announce it again. */
export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

export function show(el, visible) {
  if (el && el.hidden === visible) el.hidden = !visible;
}

/** Remove from the page, and from `elements` (key → element), every element whose key is not in `seen`. */
export function pruneKeyed(elements, seen) {
  for (const [key, el] of elements) {
    if (!seen.has(key)) {
      el.remove();
      elements.delete(key);
    }
  }
}

export function q(root, selector) {
  return root.querySelector(selector);
}

/** Give every field, label, hint and error in `root` ids under `prefix`, and link them. */
export function wireIds(root, prefix) {
  for (const field of root.querySelectorAll("[data-field]")) field.id = `${prefix}-${field.dataset.field}`;
  for (const label of root.querySelectorAll("label[data-for]")) label.htmlFor = `${prefix}-${label.dataset.for}`;
  for (const hint of root.querySelectorAll("[data-hint]")) hint.id = `${prefix}-${hint.dataset.hint}`;
  for (const err of root.querySelectorAll("[data-error-for]")) err.id = `${prefix}-${err.dataset.errorFor}-error`;
  for (const field of root.querySelectorAll("[data-field]")) {
    const ids = [];
    if (field.dataset.describe) ids.push(`${prefix}-${field.dataset.describe}`);
    if (root.querySelector(`[data-error-for="${field.dataset.field}"]`)) ids.push(`${prefix}-${field.dataset.field}-error`);
    if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
  }
}

/** A button whose operation is pending is aria-disabled (it keeps its focus) and does nothing. */
export function busyGuard(button) {
  return button.getAttribute("aria-disabled") === "true";
}

/** Run `handler` when `form` is submitted (the page stays), unless its submit button is busy. */
export function onSubmit(form, handler) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busyGuard(q(form, "button[type=submit]"))) return;
    await handler();
  });
}
