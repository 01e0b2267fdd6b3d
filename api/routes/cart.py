"""The signed-in customer's cart: kept by the gateway, so it survives reloads and sign-ins."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentUser, PoolDep, SettingsDep
from api.openapi import problems
from api.routes.products import SkuPath
from api.schemas.cart import CartLineSet, CartMerge, CartPublic
from api.services import cart

router = APIRouter(tags=["cart"])


@router.get(
    "/cart",
    summary="My cart, each line with the stock it can be ordered from",
    responses=problems(401),
)
async def get_cart(user: CurrentUser, pool: PoolDep, settings: SettingsDep) -> CartPublic:
    """The cart is kept by the gateway: the same on every device and after signing in again. Each
    line has the stock available now; ``orderable`` is false while a line has a ``problem`` (sold
    out, withdrawn, more than the stock) to fix before checkout."""
    return await cart.get_cart(pool, user.user_id, settings.shop_currency)


@router.put(
    "/cart/lines/{sku}",
    summary="Hold this many of a product (capped by the stock; 409 when it is sold out)",
    responses=problems(401, 404, 409, 413),
)
async def set_cart_line(
    sku: SkuPath, body: CartLineSet, user: CurrentUser, pool: PoolDep, settings: SettingsDep
) -> CartPublic:
    """Sets the line's quantity (rather than adding to it). More than the stock is capped to it, and
    ``notices`` says so; a sold-out product is 409, as is a new product in a cart that holds the
    most products it may (``cart-full``). Answers with the whole cart."""
    notices = await cart.set_line(pool, user.user_id, sku, body.quantity, settings.cart_max_lines)
    return await cart.get_cart(pool, user.user_id, settings.shop_currency, notices)


@router.delete(
    "/cart/lines/{sku}", summary="Take a product out of the cart", responses=problems(401)
)
async def remove_cart_line(
    sku: SkuPath, user: CurrentUser, pool: PoolDep, settings: SettingsDep
) -> CartPublic:
    """Removing a product that is not in the cart changes nothing. Answers with the whole cart."""
    await cart.remove_line(pool, user.user_id, sku)
    return await cart.get_cart(pool, user.user_id, settings.shop_currency)


@router.post(
    "/cart/merge",
    summary="Add a guest's cart to mine (after sign-in); what cannot be added is in notices",
    responses=problems(401, 413),
)
async def merge_cart(
    body: CartMerge, user: CurrentUser, pool: PoolDep, settings: SettingsDep
) -> CartPublic:
    """For the cart kept in the browser before signing in: its quantities are added to the
    account's, each capped by the stock. Lines that cannot be added (no longer sold, sold out, the
    cart full) are left out and named in ``notices``; nothing is refused."""
    notices = await cart.merge(pool, user.user_id, body.lines, settings.cart_max_lines)
    return await cart.get_cart(pool, user.user_id, settings.shop_currency, notices)


@router.delete(
    "/cart",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Empty my cart (after checkout)",
    responses=problems(401),
)
async def clear_cart(user: CurrentUser, pool: PoolDep) -> None:
    """Removes every line, as the storefront does once an order is placed."""
    await cart.clear(pool, user.user_id)
