"""Pure domain rules: no I/O, no clock, no randomness. The caller passes ``now`` in.

Every function here returns new values; the agents persist them and produce the events.
"""
