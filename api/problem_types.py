"""Every kind of problem the gateway answers with, each with a ``type`` URI of its own.

A status alone does not tell a client what to do: a 409 may be a sold-out product or an order
that has already shipped. Each kind here has its own URI (``https://shopstream.dev/problems/``
and a slug), its status and a title that is the same on every occurrence (RFC 9457 §3.1).
The URI identifies the kind; ``docs/problems.md`` documents each one, and a test keeps the two
in step. A framework error with a status no kind covers keeps ``about:blank``.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

PROBLEM_TYPE_BASE: Final = "https://shopstream.dev/problems/"
# RFC 9457: "about:blank" says the problem has no semantics beyond its status.
BLANK_TYPE: Final = "about:blank"


class ProblemType(Enum):
    """A kind of problem: its slug (the end of its ``type`` URI), status and title."""

    slug: str
    status: int
    title: str

    def __init__(self, slug: str, status: int, title: str) -> None:
        self.slug = slug
        self.status = status
        self.title = title

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug

    UNPARSEABLE_BODY = ("unparseable-body", 400, "The body cannot be parsed")
    SIGN_IN_REQUIRED = ("sign-in-required", 401, "Sign-in required")
    WRONG_CREDENTIALS = ("wrong-credentials", 401, "Wrong credentials")
    REFRESH_TOKEN_REJECTED = ("refresh-token-rejected", 401, "Refresh token rejected")
    ADMIN_ONLY = ("admin-only", 403, "Admins only")
    NOT_ORDER_OWNER = ("not-order-owner", 403, "Not the order's customer")
    NO_SUCH_RESOURCE = ("no-such-resource", 404, "No such resource")
    ORDER_NOT_FOUND = ("order-not-found", 404, "Order not found")
    PRODUCT_NOT_FOUND = ("product-not-found", 404, "Product not found")
    IMAGE_NOT_FOUND = ("image-not-found", 404, "Image not found")
    ACCOUNT_NOT_FOUND = ("account-not-found", 404, "Account not found")
    METHOD_NOT_ALLOWED = ("method-not-allowed", 405, "Method not allowed")
    OUT_OF_STOCK = ("out-of-stock", 409, "Out of stock")
    CART_FULL = ("cart-full", 409, "Cart full")
    SKU_TAKEN = ("sku-taken", 409, "SKU taken")
    ORDER_NOT_CANCELLABLE = ("order-not-cancellable", 409, "Order cannot be cancelled")
    PAYMENT_NOT_RETRYABLE = ("payment-not-retryable", 409, "Payment cannot be retried")
    ADDRESS_LOCKED = ("address-locked", 409, "Shipping address cannot change")
    NOTHING_TO_VERIFY = ("nothing-to-verify", 409, "Nothing to verify")
    NO_CODE_WAITING = ("no-code-waiting", 409, "No code waiting")
    BODY_TOO_LARGE = ("body-too-large", 413, "Body too large")
    UNSUPPORTED_IMAGE_TYPE = ("unsupported-image-type", 415, "Unsupported image type")
    INVALID_REQUEST = ("invalid-request", 422, "Invalid request")
    EMPTY_FILE = ("empty-file", 422, "Empty file")
    IDEMPOTENCY_KEY_REUSED = ("idempotency-key-reused", 422, "Idempotency-Key reused")
    NOT_IN_CATALOG = ("not-in-catalog", 422, "Not in the catalog")
    MIXED_CURRENCIES = ("mixed-currencies", 422, "Mixed currencies")
    WRONG_CODE = ("wrong-code", 422, "Wrong code")
    CODE_EXPIRED = ("code-expired", 422, "Code expired")
    RATE_LIMITED = ("rate-limited", 429, "Too many attempts")
    INTERNAL_ERROR = ("internal-error", 500, "Internal error")
    NOT_CONFIRMED = ("not-confirmed", 503, "Not confirmed")
    SIGN_IN_BUSY = ("sign-in-busy", 503, "Sign-in busy")
    CODE_NOT_SENT = ("code-not-sent", 503, "Code not sent")
    NOT_READY = ("not-ready", 503, "Not ready")


# What a framework error (routing, parsing, the body cap) is, by its status.
FRAMEWORK_TYPES: Final = {
    400: ProblemType.UNPARSEABLE_BODY,
    404: ProblemType.NO_SUCH_RESOURCE,
    405: ProblemType.METHOD_NOT_ALLOWED,
    413: ProblemType.BODY_TOO_LARGE,
    422: ProblemType.INVALID_REQUEST,
    500: ProblemType.INTERNAL_ERROR,
}
