// The admin area: products, prices, images, stock and orders, through the admin endpoints.
import { api, money, session } from "../api.js";
import { $, attempt, el, toast, when } from "../ui.js";

function sku(path) {
  return encodeURIComponent(path);
}

// A stock adjustment goes through the inventory agent: wait until the read model shows it.
async function stockApplied(code, onHand) {
  for (let tries = 0; tries < 150; tries += 1) {
    const product = await api(`/products/${sku(code)}`);
    if (product.stock.on_hand === onHand) return product;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The inventory has not applied the new stock of ${code} yet; reload to check.`);
}

function productRow(product) {
  const priceId = `price-${product.sku}`;
  const stockId = `stock-${product.sku}`;
  const imageId = `image-${product.sku}`;
  const price = el("input", { id: priceId, type: "number", min: "0", step: "0.01", value: (product.price_cents / 100).toFixed(2) });
  const stock = el("input", { id: stockId, type: "number", min: "0", value: String(product.stock.on_hand) });
  const image = el("input", { id: imageId, type: "file", accept: "image/png,image/jpeg,image/webp" });
  const shown = el("span", { class: "stock-now", text: `${product.stock.available} available` });
  return el("tr", { "data-sku": product.sku },
    el("th", { scope: "row", text: product.sku }),
    el("td", { text: product.name }),
    el("td", {},
      el("label", { for: priceId, class: "visually-hidden", text: `Price of ${product.name}` }), price,
      el("button", { type: "button", text: "Save price", onclick: () => attempt(async () => {
        await api(`/products/${sku(product.sku)}`, { method: "PATCH", body: { price_cents: Math.round(Number(price.value) * 100) } });
        toast({ level: "success", text: `Price of ${product.name} saved.` });
      }) })),
    el("td", {},
      el("label", { for: stockId, class: "visually-hidden", text: `Stock of ${product.name}` }), stock,
      el("button", { type: "button", text: "Set stock", onclick: () => attempt(async () => {
        const onHand = Number(stock.value);
        await api(`/products/${sku(product.sku)}/stock`, { method: "POST", body: { set_to: onHand } });
        const applied = await stockApplied(product.sku, onHand);
        shown.textContent = `${applied.stock.available} available`;
        toast({ level: "success", text: `Stock of ${product.name} is now ${applied.stock.on_hand}.` });
      }) }),
      shown),
    el("td", {},
      el("label", { for: imageId, class: "visually-hidden", text: `Image for ${product.name}` }), image,
      el("button", { type: "button", text: "Upload", onclick: () => attempt(async () => {
        if (!image.files.length) throw new Error("Choose an image file first.");
        const body = new FormData();
        body.append("file", image.files[0]);
        await api(`/products/${sku(product.sku)}/images`, { method: "POST", body });
        toast({ level: "success", text: `Image added to ${product.name}.` });
      }) })),
    el("td", {},
      el("button", { type: "button", class: "link", text: "Withdraw", "aria-label": `Withdraw ${product.name}`, onclick: () => attempt(async () => {
        await api(`/products/${sku(product.sku)}`, { method: "DELETE" });
        toast({ level: "info", text: `${product.name} is withdrawn from sale.` });
        listProducts();
      }) })),
  );
}

async function listProducts() {
  const q = $("#admin-q").value.trim();
  const query = new URLSearchParams({ page_size: "50", sort: q ? "relevance" : "newest" });
  if (q) query.set("q", q);
  await attempt(async () => {
    const page = await api(`/products?${query}`);
    $("#admin-products tbody").replaceChildren(...page.items.map(productRow));
  });
}

async function listOrders() {
  const status = $("#admin-status").value;
  await attempt(async () => {
    const page = await api(`/admin/orders?limit=50${status ? `&status=${status}` : ""}`);
    $("#admin-orders tbody").replaceChildren(
      ...page.items.map((order) =>
        el("tr", {},
          el("th", { scope: "row" }, el("a", { href: `/shop/orders/${encodeURIComponent(order.order_id)}`, text: order.order_id })),
          el("td", { text: order.user_id }),
          el("td", { text: order.status }),
          el("td", { text: money(order.total_cents, order.currency) }),
          el("td", { text: when(order.created_at) }),
        ),
      ),
    );
  });
}

export async function admin() {
  if (session.user?.role !== "admin") {
    $("#page-error").textContent = "Only an admin may use this page. Sign in with an admin account.";
    $("#page-error").hidden = false;
    document.querySelectorAll("main section").forEach((section) => { section.hidden = true; });
    return;
  }
  $("#new-product").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const field = (name) => form.elements.namedItem(name).value.trim();
    await attempt(async () => {
      await api("/products", {
        method: "POST",
        body: {
          sku: field("sku"), name: field("name"), category: field("category"),
          description: field("description"), price_cents: Math.round(Number(field("price")) * 100),
        },
      });
      toast({ level: "success", text: `${field("name")} added.` });
      form.reset();
      await listProducts();
    });
  });
  $("#admin-search").addEventListener("submit", (event) => { event.preventDefault(); listProducts(); });
  $("#admin-orders-filter").addEventListener("submit", (event) => { event.preventDefault(); listOrders(); });
  await Promise.all([listProducts(), listOrders()]);
}
