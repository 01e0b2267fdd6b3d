// Small DOM helpers: elements built with textContent only (never innerHTML with data),
// toasts, messages carried across a navigation, and page-level errors.
const FLASH = "shopstream.flash";

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export const $ = (selector) => document.querySelector(selector);

export function toast({ level = "info", text, action = null }) {
  const region = $("#toasts");
  const item = el("div", { class: `toast ${level}`, role: level === "error" ? "alert" : "status" });
  item.append(el("p", { text }));
  if (action) item.append(el("button", { type: "button", class: "action", text: action.label, onclick: () => { action.run(); item.remove(); } }));
  item.append(el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss notification", text: "×", onclick: () => item.remove() }));
  region.append(item);
  if (level !== "error" && !action) setTimeout(() => item.remove(), 10000);
  return item;
}

export function flash(level, text) {
  const kept = JSON.parse(sessionStorage.getItem(FLASH) || "[]");
  kept.push({ level, text });
  sessionStorage.setItem(FLASH, JSON.stringify(kept));
}

export function showFlashes() {
  const kept = JSON.parse(sessionStorage.getItem(FLASH) || "[]");
  sessionStorage.removeItem(FLASH);
  kept.forEach((message) => toast(message));
}

export function showError(error, where = "#page-error") {
  const box = $(where);
  box.textContent = error.message || String(error);
  box.hidden = false;
  box.focus?.();
}

export function clearError(where = "#page-error") {
  const box = $(where);
  box.textContent = "";
  box.hidden = true;
}

// Runs an action of the page; a failure becomes a readable message, never a console error.
export async function attempt(action, where = "#page-error") {
  clearError(where);
  try {
    return await action();
  } catch (error) {
    if (error.status === 401) {
      flash("error", error.message);
      location.assign(`/shop/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return undefined;
    }
    showError(error, where);
    return undefined;
  }
}

export function busy(button, running) {
  button.disabled = running;
  button.setAttribute("aria-busy", running ? "true" : "false");
}

export function when(date) {
  return new Date(date).toLocaleString();
}
