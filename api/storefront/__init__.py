"""The storefront: server-rendered page shells, their scripts and styles."""
