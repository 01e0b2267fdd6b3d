"""The stream agents, one module each; importing this package registers them with the app."""

from streams.agents import inventory, orders, payments, projections, shipping

__all__ = ["inventory", "orders", "payments", "projections", "shipping"]
