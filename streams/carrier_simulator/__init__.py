"""The carrier simulator: the warehouse/carrier system's stand-in on the other end of the AMQP
link, run as a process of its own (``python -m streams.carrier_simulator``). ``rules`` decides
what it answers; ``service`` speaks AMQP."""
