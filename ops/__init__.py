"""The `shopstream` command line and the operational tools above every service."""
