// Every page: the navigation for who is signed in, the notification centre, then the page.
import { api, session } from "./api.js";
import { refreshCount } from "./cart.js";
import { follow } from "./live.js";
import { $, attempt, flash, showFlashes, toast } from "./ui.js";
import * as account from "./pages/account.js";
import * as admin from "./pages/admin.js";
import * as shop from "./pages/shop.js";

const PAGES = {
  catalog: shop.catalog,
  product: shop.product,
  cart: shop.cart,
  checkout: shop.checkout,
  login: account.login,
  register: account.register,
  orders: account.orders,
  order: account.order,
  confirmation: account.confirmation,
  preferences: account.preferences,
  admin: admin.admin,
};
const LAST_NOTICE = "shopstream.last-notice";

function showNavigation() {
  const user = session.user;
  for (const item of document.querySelectorAll("[data-when]")) {
    const when = item.dataset.when;
    item.hidden = !(
      (when === "signed-in" && user) ||
      (when === "signed-out" && !user) ||
      (when === "admin" && user?.role === "admin")
    );
  }
  if (user) $("#who").textContent = `(${user.name})`;
}

// The notification centre: toasts for the signed-in customer's orders, resumed across pages.
function notificationCentre() {
  if (!session.signedIn) return;
  follow("/live/notifications", {
    lastEventId: sessionStorage.getItem(LAST_NOTICE),
    onMessage(kind, data, id) {
      if (id) sessionStorage.setItem(LAST_NOTICE, id);
      if (!data.toast) return;
      const retry = data.toast.action === "retry-payment";
      toast({
        level: data.toast.level,
        text: `Order ${data.order_id}: ${data.toast.text}`,
        action: retry
          ? { label: "Try another card", run: () => account.goToRetry(data.order_id) }
          : null,
      });
    },
  });
}

async function logout() {
  await attempt(async () => {
    const token = session.refresh;
    session.clear();
    sessionStorage.removeItem(LAST_NOTICE);
    if (token) await api("/auth/logout", { method: "POST", body: { refresh_token: token } });
    flash("success", "You are signed out.");
    location.assign("/shop/");
  });
}

showNavigation();
$("#logout").addEventListener("click", logout);
showFlashes();
refreshCount();
notificationCentre();
PAGES[document.body.dataset.page]?.();
