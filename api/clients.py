"""Who is calling, by network address: the peer, or the client a trusted proxy forwarded.

Rate limits by address count the client, not the load balancer in front of the gateway: a
limit keyed by the balancer's address would be one global limit. ``X-Forwarded-For`` is
believed only from ``trusted_proxies``; anyone else could write any address into it and so
pick a fresh limit per request. The header is read from the right: each proxy appends the
address it was called from, so the first hop (from the right) that is not a trusted proxy is
the client; whatever lies left of it was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from pydantic import IPvAnyNetwork

UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[IPvAnyNetwork]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[IPvAnyNetwork]
) -> str:
    """The client's address, given the TCP peer and every ``X-Forwarded-For`` header's value."""
    if peer is None:
        return UNKNOWN
    if not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        if _address(hop) is None:
            # Not an address: no proxy of ours wrote that. Count by the last hop we trust.
            return client
        client = hop
        if not _trusted(hop, trusted_proxies):
            return client
    return client
