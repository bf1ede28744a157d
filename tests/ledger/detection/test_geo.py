"""Country lookups: the reader of Debian's legacy GeoIP databases, and address screening."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mamori.core.errors import ConfigurationError
from mamori.ledger.geo import (
    GEOIP_IPV4,
    GEOIP_IPV6,
    CachingResolver,
    GeoIPDatResolver,
    StaticCountryResolver,
    public_address,
)
from tests.ledger.detection.test_defaults import STATIC_COUNTRIES


@pytest.fixture(scope="module")
def debian_geoip() -> GeoIPDatResolver:
    """The resolver over the installed Debian database; fails (never skips) without it."""
    missing = [str(path) for path in (GEOIP_IPV4, GEOIP_IPV6) if not path.is_file()]
    if missing:
        pytest.fail(
            f"GeoIP database missing: {', '.join(missing)}. "
            "Install it with `apt-get install geoip-database` (or `make system-deps`)."
        )
    return GeoIPDatResolver()


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("133.11.0.1", "JP"),  # the University of Tokyo
        ("202.12.27.33", "JP"),  # the M root name server, run by WIDE in Tokyo
        ("2001:200::1", "JP"),  # WIDE's IPv6 block
        ("8.8.8.8", "US"),  # Google Public DNS
        ("4.2.2.2", "US"),  # Level 3
        ("2001:4860:4860::8888", "US"),  # Google Public DNS over IPv6
        ("81.2.69.160", "GB"),
        ("::ffff:8.8.8.8", "US"),  # IPv4-mapped: looked up in the IPv4 database
        ("133.11.0.1:443", "JP"),
        ("[2001:200::1]:443", "JP"),
    ],
)
def test_known_countries(debian_geoip: GeoIPDatResolver, address: str, country: str) -> None:
    assert debian_geoip.country(address) == country


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.10.10",
        "100.64.0.1",  # carrier-grade NAT
        "198.51.100.7",  # documentation
        "224.0.0.251",  # multicast
        "255.255.255.255",
        "0.0.0.0",  # noqa: S104 - an address to look up, not to bind
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "::ffff:192.168.0.1",
        "",
        "signin.amazonaws.com",
        "AWS Internal",
        "300.1.2.3",
        "1.2.3",
    ],
)
def test_no_country_for_private_reserved_and_unparseable(
    debian_geoip: GeoIPDatResolver, address: str
) -> None:
    assert debian_geoip.country(address) is None


def test_the_static_test_countries_agree_with_the_database(
    debian_geoip: GeoIPDatResolver,
) -> None:
    for network, country in STATIC_COUNTRIES.items():
        first = ipaddress.ip_network(network)[1]
        assert debian_geoip.country(str(first)) == country, network


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GeoIPDatResolver(tmp_path / "GeoIP.dat", None)
    assert str(tmp_path / "GeoIP.dat") in str(caught.value)
    assert caught.value.hint is not None and "geoip-database" in caught.value.hint


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "GeoIP.dat"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigurationError, match="not a GeoIP country database"):
        GeoIPDatResolver(path, None)
    with pytest.raises(ConfigurationError, match="not a GeoIP country database"):
        GeoIPDatResolver(GEOIP_IPV6, None)  # the IPv6 file where the IPv4 one belongs


def test_a_truncated_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "GeoIP.dat"
    data = GEOIP_IPV4.read_bytes()
    path.write_bytes(data[:600] + data[-20:])
    resolver = GeoIPDatResolver(path, None)
    with pytest.raises(ConfigurationError, match="damaged"):
        for number in range(0, 2**32, 2**24 + 12345):
            resolver.country(str(ipaddress.IPv4Address(number | 1 << 24)))


def test_ipv4_only(debian_geoip: GeoIPDatResolver) -> None:
    resolver = GeoIPDatResolver(GEOIP_IPV4, None)
    assert resolver.country("8.8.8.8") == "US"
    assert resolver.country("2001:4860:4860::8888") is None


def test_static_resolver_prefers_the_most_specific_network() -> None:
    resolver = StaticCountryResolver({"8.0.0.0/8": "US", "8.8.8.0/24": "CA"})
    assert resolver.country("8.8.8.8") == "CA"
    assert resolver.country("8.1.1.1") == "US"
    assert resolver.country("10.0.0.1") is None


def test_pseudo_countries_are_not_countries() -> None:
    resolver = StaticCountryResolver({"8.8.8.0/24": "A1", "4.0.0.0/8": "EU"})
    assert resolver.country("8.8.8.8") is None
    assert resolver.country("4.2.2.2") is None


def test_the_cache_answers_like_the_resolver() -> None:
    inner = StaticCountryResolver({"8.8.8.0/24": "US"})
    cached = CachingResolver(inner, size=2)
    for address in ["8.8.8.8", "8.8.4.4", "8.8.8.9", "8.8.8.8", "x"]:
        assert cached.country(address) == inner.country(address)


def test_public_address_strips_ports() -> None:
    assert str(public_address("8.8.8.8:53")) == "8.8.8.8"
    assert str(public_address("[2001:4860:4860::8888]:53")) == "2001:4860:4860::8888"
    assert public_address("8.8.8.8:53:1") is None
