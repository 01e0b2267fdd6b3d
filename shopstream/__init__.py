"""shopstream's base: settings, logging, metrics, health probes and AWS clients, shared by
every component. It imports nothing of ours: everything else is built on it."""
