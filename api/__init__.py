"""The REST gateways (users, products, orders) and the storefront, in one FastAPI app."""
