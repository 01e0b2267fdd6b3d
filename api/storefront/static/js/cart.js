// The cart: on the server for a signed-in customer (PUT/DELETE /cart/lines, /cart/merge), in
// localStorage for a guest until sign-in merges it.
import { api, session } from "./api.js";
import { $ } from "./ui.js";

const GUEST = "shopstream.guest-cart";

export const guestCart = {
  lines() { return JSON.parse(localStorage.getItem(GUEST) || "[]"); },
  save(lines) { localStorage.setItem(GUEST, JSON.stringify(lines)); },
  clear() { localStorage.removeItem(GUEST); },
};

export function showCount(count) {
  const badge = $("#cart-count");
  if (badge) badge.textContent = String(count);
}

function guestView(products) {
  const lines = guestCart.lines().map((line) => {
    const product = products.get(line.sku);
    const available = product ? product.stock.available : 0;
    let problem = null;
    if (!product) problem = `${line.sku} is no longer sold; remove it to check out.`;
    else if (available <= 0) problem = `${product.name} has sold out; remove it to check out.`;
    else if (line.quantity > available) problem = `Only ${available} of ${product.name} left; lower the quantity to check out.`;
    const price = product ? product.price_cents : 0;
    return {
      sku: line.sku,
      name: product ? product.name : line.sku,
      quantity: line.quantity,
      unit_price_cents: price,
      subtotal_cents: price * line.quantity,
      currency: product ? product.currency : "EUR",
      available,
      problem,
    };
  });
  return {
    lines,
    total_cents: lines.reduce((sum, line) => sum + line.subtotal_cents, 0),
    currency: lines[0]?.currency || "EUR",
    orderable: lines.length > 0 && lines.every((line) => !line.problem),
    notices: [],
  };
}

export async function loadCart() {
  if (session.signedIn) return api("/cart");
  const products = new Map();
  for (const line of guestCart.lines()) {
    try {
      products.set(line.sku, await api(`/products/${encodeURIComponent(line.sku)}`));
    } catch (error) {
      if (error.status !== 404) throw error;
    }
  }
  return guestView(products);
}

export async function addToCart(product, quantity) {
  if (session.signedIn) {
    return api("/cart/merge", { method: "POST", body: { lines: [{ sku: product.sku, quantity }] } });
  }
  const available = product.stock.available;
  if (available <= 0) throw new Error(`${product.name} is out of stock.`);
  const lines = guestCart.lines();
  const line = lines.find((l) => l.sku === product.sku);
  const wanted = (line ? line.quantity : 0) + quantity;
  const held = Math.min(wanted, available, 100);
  if (line) line.quantity = held;
  else lines.push({ sku: product.sku, quantity: held });
  guestCart.save(lines);
  const notices = held < wanted ? [`Only ${available} of ${product.name} left: your cart holds ${held}.`] : [];
  return { ...guestView(new Map([[product.sku, product]])), notices };
}

export async function setQuantity(sku, quantity) {
  if (session.signedIn) {
    return api(`/cart/lines/${encodeURIComponent(sku)}`, { method: "PUT", body: { quantity } });
  }
  const product = await api(`/products/${encodeURIComponent(sku)}`);
  const lines = guestCart.lines();
  const line = lines.find((l) => l.sku === sku);
  const available = product.stock.available;
  if (available <= 0) throw new Error(`${product.name} is out of stock.`);
  line.quantity = Math.min(quantity, available);
  guestCart.save(lines);
  const notices = line.quantity < quantity ? [`Only ${available} of ${product.name} left: your cart holds ${line.quantity}.`] : [];
  return { ...(await loadCart()), notices };
}

export async function removeLine(sku) {
  if (session.signedIn) return api(`/cart/lines/${encodeURIComponent(sku)}`, { method: "DELETE" });
  guestCart.save(guestCart.lines().filter((line) => line.sku !== sku));
  return loadCart();
}

// After sign-in: the guest's lines join the account's cart; what could not is said.
export async function mergeGuestCart() {
  const lines = guestCart.lines().map(({ sku, quantity }) => ({ sku, quantity }));
  if (!lines.length) return [];
  const cart = await api("/cart/merge", { method: "POST", body: { lines } });
  guestCart.clear();
  return cart.notices;
}

export async function refreshCount() {
  try {
    const cart = await loadCart();
    showCount(cart.lines.reduce((sum, line) => sum + line.quantity, 0));
  } catch {
    // The badge is a convenience; the cart page reports errors itself.
  }
}
