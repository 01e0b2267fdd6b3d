// Sign-in, registration, my orders, one order with its live timeline, the confirmation, the
// notification preferences with the codes that confirm their addresses.
import { api, money, session } from "../api.js";
import { mergeGuestCart } from "../cart.js";
import { follow } from "../live.js";
import { $, attempt, busy, el, flash, toast, when } from "../ui.js";

const PLACED = "shopstream.placed";
const CANCELLABLE = new Set(["pending", "reserved", "paid", "payment_failed", "shipping_problem"]);

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/shop/";
  // Only paths of this site: an open redirect would send a fresh session elsewhere.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/shop/";
}

async function signIn(email, password) {
  sessionStorage.removeItem("shopstream.last-notice");  // another account's bookmark
  session.keep(await api("/auth/login", { method: "POST", body: { email, password } }));
  session.remember(await api("/users/me"));
  const notices = await mergeGuestCart();
  notices.forEach((text) => flash("warning", text));
}

export function login() {
  const form = $("#login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    busy(button, true);
    await attempt(async () => {
      await signIn(form.email.value, form.password.value);
      flash("success", `Welcome back, ${session.user.name}.`);
      location.assign(nextPage());
    });
    busy(button, false);
  });
}

export function register() {
  const form = $("#register-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    busy(button, true);
    await attempt(async () => {
      const field = (name) => form.elements.namedItem(name).value;
      const body = { name: field("name"), email: field("email"), password: field("password") };
      await api("/users", { method: "POST", body });
      await signIn(body.email, body.password);
      flash("success", `Welcome, ${session.user.name}.`);
      location.assign(nextPage());
    });
    busy(button, false);
  });
}

function requireSignIn(what = "your orders") {
  if (session.signedIn) return true;
  flash("info", `Sign in to see ${what}.`);
  location.assign(`/shop/login?next=${encodeURIComponent(location.pathname)}`);
  return false;
}

export async function orders() {
  if (!requireSignIn()) return;
  let before = null;
  const more = $("#more-orders");
  const load = () =>
    attempt(async () => {
      const page = await api(`/orders?limit=20${before ? `&before=${encodeURIComponent(before)}` : ""}`);
      $("#orders tbody").append(
        ...page.items.map((order) =>
          el("tr", {},
            el("th", { scope: "row" }, el("a", { href: `/shop/orders/${encodeURIComponent(order.order_id)}`, text: order.order_id })),
            el("td", { text: when(order.created_at) }),
            el("td", {}, el("span", { class: `status ${order.status}`, text: order.status.replace("_", " ") })),
            el("td", { text: money(order.total_cents, order.currency) }),
          ),
        ),
      );
      before = page.next_before;
      more.hidden = !before;
      $("#orders-empty").hidden = $("#orders tbody").children.length > 0;
    });
  more.addEventListener("click", load);
  await load();
}

export function confirmation() {
  const placed = JSON.parse(sessionStorage.getItem(PLACED) || "null");
  if (placed && placed.order_id === document.body.dataset.orderId) {
    const count = placed.lines.reduce((sum, line) => sum + line.quantity, 0);
    $("#confirmation-total").textContent = `${count} item${count === 1 ? "" : "s"}, ${money(placed.total_cents, placed.currency)}, to ${placed.shipping_address.name}, ${placed.shipping_address.city}.`;
  }
}

export function goToRetry(orderId) {
  const target = `/shop/orders/${encodeURIComponent(orderId)}`;
  if (location.pathname === target) {
    const form = $("#retry-form");
    form.hidden = false;
    form.querySelector("select").focus();
  } else {
    location.assign(`${target}#retry`);
  }
}

function statusText(status) {
  return status.replace("_", " ").toUpperCase();
}

function showStatus(status) {
  const badge = $("#order-status");
  badge.textContent = statusText(status);
  badge.className = `status ${status}`;
  $("#cancel-order").hidden = !CANCELLABLE.has(status);
  const retry = $("#retry-form");
  retry.hidden = status !== "payment_failed";
  if (!retry.hidden && location.hash === "#retry") retry.querySelector("select").focus();
}

// The order keeps SKUs; the catalog names them. A product withdrawn since is shown by its SKU.
async function productName(sku) {
  try {
    return (await api(`/products/${encodeURIComponent(sku)}`)).name;
  } catch {
    return null;
  }
}

async function showLines(order) {
  const names = await Promise.all(order.lines.map((line) => productName(line.sku)));
  $("#order-lines tbody").replaceChildren(
    ...order.lines.map((line, index) =>
      el("tr", { "data-sku": line.sku },
        el("th", { scope: "row" }, names[index] ? el("a", { href: `/shop/products/${encodeURIComponent(line.sku)}`, text: names[index] }) : line.sku),
        el("td", { text: String(line.quantity) }),
        el("td", { text: money(line.subtotal_cents, order.currency) })),
    ),
  );
}

function refundText(order) {
  // A refund under way or failed says so; the amount shows once the money is back.
  if (order.refund_status === "failed") return "Delayed — we are looking into it";
  if (order.refund_status === "requested") return "Under way";
  return order.refunded_cents ? money(order.refunded_cents, order.currency) : "—";
}

function showOrder(order) {
  showStatus(order.status);
  $("#order-total").textContent = money(order.total_cents, order.currency);
  $("#order-tracking").textContent = order.tracking_number || "—";
  $("#order-refunded").textContent = refundText(order);
  showLines(order);  // not awaited: the timeline starts meanwhile
}

async function loadOrder(orderId) {
  // Just placed: the order's read model trails the event stream by a moment.
  for (let tries = 0; ; tries += 1) {
    try {
      return await api(`/orders/${encodeURIComponent(orderId)}`);
    } catch (error) {
      if (error.status !== 404 || tries >= 120) throw error;
      $("#order-status").textContent = "Recording your order…";
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

export async function order() {
  if (!requireSignIn()) return;
  const orderId = document.body.dataset.orderId;
  const current = await attempt(() => loadOrder(orderId));
  if (!current) return;
  showOrder(current);
  const seen = new Set();
  const timeline = $("#timeline");
  const state = $("#live-state");
  follow(`/live/orders/${encodeURIComponent(orderId)}`, {
    onState(value) {
      state.textContent = value === "live" ? "● live" : value === "reconnecting" ? "reconnecting…" : "";
      state.dataset.state = value;
    },
    onMessage(kind, event) {
      if (seen.has(event.event_id)) return;
      seen.add(event.event_id);
      const item = el("li", { class: `event ${event.type}`, "data-type": event.type, "data-at": event.occurred_at, "data-key": event.timeline_key, "data-shown": String(Date.now()) },
        el("time", { datetime: event.occurred_at, text: new Date(event.occurred_at).toLocaleTimeString() }),
        el("span", { text: event.text }));
      // In the order things happened, not the order they arrive in (each topic of an order
      // comes on its own): by the server's timeline key, as the stored timeline is ordered.
      const later = [...timeline.children].find((other) => other.dataset.key > event.timeline_key);
      timeline.insertBefore(item, later || null);
      if (event.type === "OrderStatusChanged") showStatus(String(event.summary.to_status));
      if (event.type === "ShipmentDispatched") $("#order-tracking").textContent = String(event.summary.tracking_number);
      if (event.type === "PaymentRefunded") $("#order-refunded").textContent = money(Number(event.summary.amount_cents), String(event.summary.currency));
      if (event.type === "RefundFailed") $("#order-refunded").textContent = refundText({ refund_status: "failed" });
    },
  });
  $("#cancel-order").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    busy(button, true);
    await attempt(() => api(`/orders/${encodeURIComponent(orderId)}/cancel`, { method: "POST", body: { reason: "cancelled by the customer" } }));
    busy(button, false);
  });
  $("#retry-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button");
    busy(button, true);
    await attempt(async () => {
      await api(`/orders/${encodeURIComponent(orderId)}/payment`, { method: "POST", body: { payment_token: form.card.value } });
      form.hidden = true;
    });
    busy(button, false);
  });
}

const PREFERENCES = "/users/me/notification-preferences";

// What the page says of an address: confirmed, waiting for the code sent, or neither.
function showVerification(where, address, verified, awaiting) {
  const state = $(where);
  state.className = `verification${verified ? " verified" : ""}`;
  state.textContent = !address ? "" : verified ? `✓ ${address} is confirmed.`
    : awaiting ? `${address} is not confirmed yet: type the code we sent there below.`
    : `${address} is not confirmed: nothing is sent there until it is.`;
}

export async function preferences() {
  if (!requireSignIn("your notification preferences")) return;
  const form = $("#preferences-form");
  const field = (name) => form.elements.namedItem(name);
  const verify = $("#verify-form");
  let shown = null;

  const show = (prefs) => {
    shown = prefs;
    for (const name of ["email", "sms", "push"]) field(name).checked = prefs[name];
    field("email_address").value = prefs.email_address || "";
    field("phone").value = prefs.phone || "";
    const email = prefs.email_address || session.user.email;
    showVerification("#email-state", email, prefs.email_verified, prefs.awaiting_code.includes("email"));
    showVerification("#phone-state", prefs.phone, prefs.phone_verified, prefs.awaiting_code.includes("sms"));
    // Every address not confirmed yet can be: the ones waiting for a code first.
    const open = [
      !prefs.email_verified && ["email", `E-mail to ${email}`],
      prefs.phone && !prefs.phone_verified && ["sms", `SMS to ${prefs.phone}`],
    ].filter(Boolean).sort(([a], [b]) => prefs.awaiting_code.includes(b) - prefs.awaiting_code.includes(a));
    verify.elements.namedItem("code").value = "";
    verify.elements.namedItem("channel").replaceChildren(...open.map(([value, text]) => el("option", { value, text })));
    $("#verify").hidden = open.length === 0;
  };

  const act = async (button, action) => {
    busy(button, true);
    await attempt(action);
    busy(button, false);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(form.querySelector("button"), async () => {
      const body = {
        email: field("email").checked,
        sms: field("sms").checked,
        push: field("push").checked,
        phone: field("phone").value.trim() || null,
        email_address: field("email_address").value.trim() || null,
      };
      show(await api(PREFERENCES, { method: "PUT", body }));
      toast({ level: "success", text: "Saved." });
    });
  });
  verify.addEventListener("submit", (event) => {
    event.preventDefault();
    const channel = verify.elements.namedItem("channel").value;
    act(verify.querySelector("button[type=submit]"), async () => {
      show(await api(`${PREFERENCES}/verify`, { method: "POST", body: { channel, code: verify.elements.namedItem("code").value.trim() } }));
      toast({ level: "success", text: channel === "sms" ? "Your phone number is confirmed." : "Your e-mail address is confirmed." });
    });
  });
  $("#resend-code").addEventListener("click", (event) => {
    const channel = verify.elements.namedItem("channel").value;
    act(event.currentTarget, async () => {
      const sent = await api(`${PREFERENCES}/verification-codes`, { method: "POST", body: { channel } });
      toast({ level: "info", text: `A new code is on its way to ${sent.address}.` });
      show({ ...shown, awaiting_code: [...new Set([...shown.awaiting_code, channel])] });
    });
  });
  const current = await attempt(() => api(PREFERENCES));
  if (current) show(current);
}
