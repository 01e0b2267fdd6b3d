"""Request and response models, by purpose (``UserCreate``, ``UserPublic``, ...).

Requests forbid unknown fields, so a client that sends ``status``, ``total``, ``price``,
``user_id`` or ``role`` is told (422, naming the field) instead of being silently ignored.
Every request model carries an example, which the OpenAPI (and API Gateway) shows.
"""
