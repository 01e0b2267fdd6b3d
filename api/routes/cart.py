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
    return await cart.get_cart(pool, user.user_id, settings.shop_currency)


@router.put(
    "/cart/lines/{sku}",
    summary="Hold this many of a product (capped by the stock; 409 when it is sold out)",
    responses=problems(401, 404, 409, 413),
)
async def set_cart_line(
    sku: SkuPath, body: CartLineSet, user: CurrentUser, pool: PoolDep, settings: SettingsDep
) -> CartPublic:
    notices = await cart.set_line(pool, user.user_id, sku, body.quantity, settings.cart_max_lines)
    return await cart.get_cart(pool, user.user_id, settings.shop_currency, notices)


@router.delete(
    "/cart/lines/{sku}", summary="Take a product out of the cart", responses=problems(401)
)
async def remove_cart_line(
    sku: SkuPath, user: CurrentUser, pool: PoolDep, settings: SettingsDep
) -> CartPublic:
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
    notices = await cart.merge(pool, user.user_id, body.lines, settings.cart_max_lines)
    return await cart.get_cart(pool, user.user_id, settings.shop_currency, notices)


@router.delete(
    "/cart",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Empty my cart (after checkout)",
    responses=problems(401),
)
async def clear_cart(user: CurrentUser, pool: PoolDep) -> None:
    await cart.clear(pool, user.user_id)
