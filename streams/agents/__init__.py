"""The stream agents, one module each; importing this package registers them with the app."""

from streams.agents import inventory, notifications, orders, payments, projections, shipping

__all__ = ["inventory", "notifications", "orders", "payments", "projections", "shipping"]
