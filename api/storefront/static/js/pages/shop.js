// Catalog, product, cart and checkout.
import { api, money, session } from "../api.js";
import { addToCart, loadCart, removeLine, setQuantity, showCount } from "../cart.js";
import { $, attempt, busy, el, flash, toast } from "../ui.js";

const PAGE_SIZE = 12;
const CHECKOUT_KEY = "shopstream.checkout-key";
const PLACED = "shopstream.placed";

export function stockText(stock) {
  if (stock.available <= 0) return "Out of stock";
  if (stock.available <= 5) return `Only ${stock.available} left`;
  return "In stock";
}

function cents(value) {
  return value === "" || value === null ? null : String(Math.round(Number(value) * 100));
}

export async function catalog() {
  const params = new URLSearchParams(location.search);
  const form = $("#filters");
  for (const [name, value] of params) {
    const field = form.elements.namedItem(name);
    if (!field) continue;
    if (field.type === "checkbox") field.checked = value === "true";
    else field.value = value;
  }
  const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
  const page = Math.max(1, Number(params.get("page") || 1));
  query.set("page", String(page));
  for (const name of ["q", "category", "sort"]) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  if (params.get("in_stock") === "true") query.set("in_stock", "true");
  const min = cents(params.get("min_price"));
  const max = cents(params.get("max_price"));
  if (min) query.set("min_price_cents", min);
  if (max) query.set("max_price_cents", max);
  if (!params.get("q") && query.get("sort") === "relevance") query.set("sort", "newest");
  await attempt(async () => {
    const result = await api(`/products?${query}`);
    $("#result-count").textContent = `${result.total} product${result.total === 1 ? "" : "s"} found`;
    const list = $("#products");
    list.replaceChildren(
      ...result.items.map((product) =>
        el(
          "li",
          { class: "card" },
          product.images[0] ? el("img", { src: product.images[0].url, alt: product.name, loading: "lazy" }) : null,
          el("h2", {}, el("a", { href: `/shop/products/${encodeURIComponent(product.sku)}`, text: product.name })),
          el("p", { class: "price", text: money(product.price_cents, product.currency) }),
          el("p", { class: `stock ${product.stock.available > 0 ? "ok" : "out"}`, text: stockText(product.stock) }),
        ),
      ),
    );
    const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    const pager = $("#pager");
    pager.replaceChildren();
    if (pages > 1) {
      const link = (number, label) => {
        const next = new URLSearchParams(params);
        next.set("page", String(number));
        return el("a", { href: `?${next}`, text: label, "aria-current": number === page ? "page" : null });
      };
      if (page > 1) pager.append(link(page - 1, "Previous"));
      pager.append(el("span", { text: `Page ${page} of ${pages}` }));
      if (page < pages) pager.append(link(page + 1, "Next"));
    }
  });
}

export async function product() {
  const sku = document.body.dataset.sku;
  const item = await attempt(() => api(`/products/${encodeURIComponent(sku)}`));
  if (!item) return;
  document.title = `${item.name} · shopstream`;
  $("#product-name").textContent = item.name;
  $("#price").textContent = money(item.price_cents, item.currency);
  $("#description").textContent = item.description;
  const stock = $("#stock");
  stock.textContent = stockText(item.stock);
  stock.className = `stock ${item.stock.available > 0 ? "ok" : "out"}`;
  $("#images").replaceChildren(...item.images.map((image) => el("img", { src: image.url, alt: item.name })));
  const quantity = $("#quantity");
  const button = $("#add");
  if (item.stock.available <= 0) {
    button.disabled = true;
    quantity.disabled = true;
  } else {
    quantity.max = String(Math.min(100, item.stock.available));
  }
  $("#add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(button, true);
    await attempt(async () => {
      const cart = await addToCart(item, Number(quantity.value));
      showCount(cart.lines.reduce((sum, line) => sum + line.quantity, 0));
      const added = $("#added");
      added.textContent = `${item.name} is in your cart.`;
      added.hidden = false;
      cart.notices.forEach((text) => toast({ level: "warning", text }));
    });
    busy(button, false);
  });
}

function renderCart(cart) {
  const body = $("#cart tbody");
  body.replaceChildren(
    ...cart.lines.map((line) => {
      const input = el("input", {
        id: `qty-${line.sku}`, type: "number", min: "1", max: String(Math.max(1, Math.min(100, line.available))),
        value: String(line.quantity), "aria-describedby": line.problem ? `problem-${line.sku}` : null,
      });
      const update = el("button", {
        type: "button", text: "Update",
        "aria-label": `Update quantity of ${line.name}`,
        onclick: () => attempt(async () => renderCart(await setQuantity(line.sku, Number(input.value)))),
      });
      const remove = el("button", {
        type: "button", class: "link", text: "Remove", "aria-label": `Remove ${line.name}`,
        onclick: () => attempt(async () => renderCart(await removeLine(line.sku))),
      });
      return el(
        "tr", {},
        el("th", { scope: "row" },
          el("a", { href: `/shop/products/${encodeURIComponent(line.sku)}`, text: line.name }),
          line.problem ? el("p", { id: `problem-${line.sku}`, class: "problem", text: line.problem }) : null),
        el("td", { text: money(line.unit_price_cents, line.currency) }),
        el("td", {}, el("label", { for: `qty-${line.sku}`, class: "visually-hidden", text: `Quantity of ${line.name}` }), input, update),
        el("td", { text: money(line.subtotal_cents, line.currency) }),
        el("td", {}, remove),
      );
    }),
  );
  $("#cart-total").textContent = money(cart.total_cents, cart.currency);
  $("#cart-empty").hidden = cart.lines.length > 0;
  $("#cart").hidden = cart.lines.length === 0;
  $("#to-checkout").hidden = cart.lines.length === 0;
  $("#cart-notices").replaceChildren(...cart.notices.map((text) => el("p", { class: "alert warning", text })));
  showCount(cart.lines.reduce((sum, line) => sum + line.quantity, 0));
}

export async function cart() {
  const loaded = await attempt(loadCart);
  if (loaded) renderCart(loaded);
}

function showProblems(problems) {
  const box = $("#checkout-problems");
  box.replaceChildren(
    el("p", { text: "Your cart changed while you shopped. Nothing was charged." }),
    el("ul", {}, ...problems.map((text) => el("li", { text }))),
    el("p", {}, el("a", { href: "/shop/cart", text: "Review your cart" })),
  );
  box.hidden = false;
  $("#place-order").disabled = true;
  box.focus?.();
}

function renderSummary(current) {
  $("#summary tbody").replaceChildren(
    ...current.lines.map((line) =>
      el("tr", {}, el("th", { scope: "row", text: line.name }), el("td", { text: String(line.quantity) }), el("td", { text: money(line.subtotal_cents, line.currency) })),
    ),
  );
  $("#summary-total").textContent = money(current.total_cents, current.currency);
  const problems = current.lines.map((line) => line.problem).filter(Boolean);
  if (problems.length) showProblems(problems);
  return problems.length === 0;
}

export async function checkout() {
  if (!session.signedIn) {
    flash("info", "Sign in to check out; your cart comes with you.");
    location.assign("/shop/login?next=/shop/checkout");
    return;
  }
  const current = await attempt(loadCart);
  if (!current) return;
  if (!current.lines.length) {
    flash("info", "Your cart is empty.");
    location.assign("/shop/cart");
    return;
  }
  renderSummary(current);
  const form = $("#checkout-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("#place-order");
    busy(button, true);
    await attempt(async () => {
      // Stock may have sold while the page was open: check before asking for a charge.
      const latest = await loadCart();
      if (!renderSummary(latest)) return;
      // One key per checkout, kept until it succeeds: a retry never makes a second order.
      let key = sessionStorage.getItem(CHECKOUT_KEY);
      if (!key) {
        key = crypto.randomUUID();
        sessionStorage.setItem(CHECKOUT_KEY, key);
      }
      const data = new FormData(form);
      const address = {};
      for (const name of ["name", "line1", "line2", "city", "postal_code"]) {
        const value = String(data.get(name) || "").trim();
        if (value) address[name] = value;
      }
      address.country = String(data.get("country") || "").trim().toUpperCase();
      const placed = await api("/orders", {
        method: "POST",
        headers: { "Idempotency-Key": key },
        body: {
          lines: latest.lines.map(({ sku, quantity }) => ({ sku, quantity })),
          shipping_address: address,
          payment_token: String(data.get("card")),
        },
      });
      sessionStorage.removeItem(CHECKOUT_KEY);
      sessionStorage.setItem(PLACED, JSON.stringify(placed));
      await api("/cart", { method: "DELETE" });
      location.assign(`/shop/orders/${encodeURIComponent(placed.order_id)}/confirmation`);
    });
    busy(button, false);
    button.disabled = !$("#checkout-problems").hidden;
  });
}
