"""Which address a request is counted by, with and without trusted proxies."""

from __future__ import annotations

import pytest
from pydantic import IPvAnyNetwork, TypeAdapter

from api.clients import UNKNOWN, client_address

NETWORKS = TypeAdapter(list[IPvAnyNetwork])
PROXIES = NETWORKS.validate_python(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("198.51.100.7", ["203.0.113.1"], []) == "198.51.100.7"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_name_another_client() -> None:
    assert client_address("198.51.100.7", ["203.0.113.1"], PROXIES) == "198.51.100.7"


def test_a_trusted_proxy_names_the_client_it_forwarded() -> None:
    assert client_address("10.0.0.5", ["203.0.113.1"], PROXIES) == "203.0.113.1"


def test_what_the_client_wrote_left_of_the_proxy_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real address.
    assert client_address("10.0.0.5", ["1.2.3.4, 203.0.113.9"], PROXIES) == "203.0.113.9"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    headers = ["1.2.3.4, 203.0.113.9", "10.1.1.1, fd00::2"]
    assert client_address("10.0.0.5", headers, PROXIES) == "203.0.113.9"


@pytest.mark.parametrize("header", [[], ["10.1.1.1"]])
def test_only_trusted_hops_leave_the_last_of_them(header: list[str]) -> None:
    assert client_address("10.0.0.5", header, PROXIES) == (header[0] if header else "10.0.0.5")


def test_a_hop_that_is_not_an_address_stops_the_walk() -> None:
    assert client_address("10.0.0.5", ["203.0.113.9, garbage, 10.2.2.2"], PROXIES) == "10.2.2.2"


def test_no_peer_is_unknown() -> None:
    assert client_address(None, ["203.0.113.1"], PROXIES) == UNKNOWN
