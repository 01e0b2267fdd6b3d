"""The I/O edge: the payment function and its invokers, Stripe, the carrier and the brokers."""
