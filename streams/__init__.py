"""Stream processing: the event contract, the topic layout and the pure domain rules.

Arrows point one way: ``domain`` uses ``contract``; ``contract`` and ``topics`` import nothing
that does I/O, so the agents, the gateways and the tests all share them.
"""
