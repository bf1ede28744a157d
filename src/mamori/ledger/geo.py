"""Which country an IP address is registered in, for detection rules such as logins from abroad.

`CountryResolver` is the interface. `GeoIPDatResolver` reads the country databases of the
Debian package `geoip-database` (MaxMind's legacy binary format, `GeoIP.dat` for IPv4 and
`GeoIPv6.dat` for IPv6); `StaticCountryResolver` maps a few networks, for tests.

Private, loopback, link-local, multicast, documentation and other non-global addresses have
no country, nor do texts that are not addresses (CloudTrail puts a service name such as
`signin.amazonaws.com` where the caller's address would be). The database codes that name
no country count as unknown too: MaxMind's `A1` (anonymous proxy), `A2` (satellite
provider), `O1` (other), and the regions `AP` and `EU`.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

GEOIP_DIRECTORY = Path("/usr/share/GeoIP")
GEOIP_IPV4 = GEOIP_DIRECTORY / "GeoIP.dat"
GEOIP_IPV6 = GEOIP_DIRECTORY / "GeoIPv6.dat"

# Codes a legacy database uses that do not name a country.
NOT_COUNTRIES = frozenset({"--", "AP", "EU", "A1", "A2", "O1"})


def public_address(text: str) -> IPAddress | None:
    """The globally routable address in `text` (which may carry a port), else None."""
    address = _parse(text.strip())
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return address


def _parse(text: str) -> IPAddress | None:
    """An address from `1.2.3.4`, `1.2.3.4:443`, `2001:db8::1` or `[2001:db8::1]:443`."""
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1 : text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.partition(":")[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            continue
    return None


# The legacy format numbers countries; a leaf of the search tree holds this table's index.
_COUNTRY_CODES = (
    "-- AP EU AD AE AF AG AI AL AM CW AO AQ AR AS AT AU AW AZ BA BB BD BE BF BG BH BI BJ "
    "BM BN BO BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CX CY CZ "
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR SX GA GB GD GE GF GH GI GL "
    "GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IN IO IQ IR IS IT JM JO JP "
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD MG MH MK "
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM "
    "PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RU RW SA SB SC SD SE SG SH SI SJ "
    "SK SL SM SN SO SR ST SV SY SZ TC TD TF TG TH TJ TK TM TN TO TL TR TT TV TW TZ UA UG "
    "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT RS ZA ZM ME ZW A1 A2 O1 AX GG IM JE BL "
    "MF BQ SS O1"
)
_COUNTRY_TABLE = tuple(_COUNTRY_CODES.split())

COUNTRY_EDITION = 1  # the database type byte of an IPv4 country database
COUNTRY_EDITION_V6 = 12  # ... and of an IPv6 one
_LEAF_BASE = 0xFFFF00  # tree pointers at or above this are leaves: base + country index
_POINTER_BYTES = 3
_NODE_BYTES = 2 * _POINTER_BYTES
_INFO_MARKER = b"\xff\xff\xff"
_INFO_SEARCH_BYTES = 20  # the type marker sits within this many bytes of the end
_OLD_TYPE_OFFSET = 105  # files from before 2003 store the type plus this


class CountryDat:
    """One legacy country database held in memory: a binary tree over the address bits.

    Each node is two 3-byte little-endian pointers, taken for a 0 and a 1 bit, read from
    the most significant bit down. A pointer below `_LEAF_BASE` is the number of the next
    node; at or above it, the walk ends on a country index.
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self._data = data

    @classmethod
    def open(cls, path: Path, edition: int) -> CountryDat:
        """The database at `path`, which must be of type `edition`."""
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise missing_database(path) from exc
        found = _edition(data)
        if found != edition:
            raise ConfigurationError(
                N_("%(path)s is not a GeoIP country database of the expected kind"),
                params={"path": str(path)},
            )
        return cls(path, data)

    def country(self, number: int, bits: int) -> str:
        """The code at the leaf for the `bits`-bit address `number` (`--` when unknown)."""
        data, node = self._data, 0
        for bit in range(bits - 1, -1, -1):
            start = node * _NODE_BYTES + (_POINTER_BYTES if number >> bit & 1 else 0)
            if start + _POINTER_BYTES > len(data):
                break
            pointer = int.from_bytes(data[start : start + _POINTER_BYTES], "little")
            if pointer >= _LEAF_BASE:
                index = pointer - _LEAF_BASE
                return _COUNTRY_TABLE[index] if index < len(_COUNTRY_TABLE) else "--"
            node = pointer
        raise ConfigurationError(
            N_("the GeoIP country database %(path)s is damaged"), params={"path": str(self.path)}
        )


def _edition(data: bytes) -> int | None:
    """The database type recorded after the marker near the end of the file, if any."""
    tail = data[-_INFO_SEARCH_BYTES:]
    at = tail.rfind(_INFO_MARKER)
    if at < 0 or at + len(_INFO_MARKER) >= len(tail):
        return None
    kind = tail[at + len(_INFO_MARKER)]
    return kind - _OLD_TYPE_OFFSET if kind > _OLD_TYPE_OFFSET else kind


class CountryResolver(ABC):
    """Answers which country an address belongs to (ISO 3166-1 alpha-2, upper case)."""

    def country(self, address: str) -> str | None:
        """The country of `address`; None when private, reserved, unparseable or unknown."""
        found = public_address(address)
        if found is None:
            return None
        code = self.lookup(found)
        return None if code is None or code in NOT_COUNTRIES else code

    @abstractmethod
    def lookup(self, address: IPAddress) -> str | None:
        """The country code stored for a public `address`, if any."""


class StaticCountryResolver(CountryResolver):
    """Countries of a fixed set of networks, e.g. `{"133.11.0.0/16": "JP"}`; for tests."""

    def __init__(self, networks: Mapping[str, str]) -> None:
        parsed = [(ipaddress.ip_network(net), code.upper()) for net, code in networks.items()]
        # Longest prefix first, so a more specific network wins over a broader one.
        self._networks = sorted(parsed, key=lambda item: -item[0].prefixlen)

    def lookup(self, address: IPAddress) -> str | None:
        """The code of the most specific network containing `address`."""
        for network, code in self._networks:
            if address.version == network.version and address in network:
                return code
        return None


class GeoIPDatResolver(CountryResolver):
    """Country lookups in MaxMind legacy country databases (the Debian `geoip-database`).

    Both files are read into memory when the resolver is made (about 10 MB together), so a
    missing or wrong file is reported at once rather than on the first lookup. Pass
    `ipv6_path=None` to resolve IPv4 only; IPv6 addresses then have no country.
    """

    def __init__(self, ipv4_path: Path = GEOIP_IPV4, ipv6_path: Path | None = GEOIP_IPV6) -> None:
        self._ipv4 = CountryDat.open(ipv4_path, COUNTRY_EDITION)
        self._ipv6 = CountryDat.open(ipv6_path, COUNTRY_EDITION_V6) if ipv6_path else None

    def lookup(self, address: IPAddress) -> str | None:
        """The country stored for `address` in the database of its IP version."""
        database = self._ipv4 if address.version == 4 else self._ipv6
        return database.country(int(address), address.max_prefixlen) if database else None


def missing_database(path: Path) -> ConfigurationError:
    """The error for a GeoIP database file that is not there."""
    return ConfigurationError(
        N_("the GeoIP country database %(path)s is missing"),
        hint=N_("install the Debian package geoip-database (apt-get install geoip-database)"),
        params={"path": str(path)},
    )


class CachingResolver(CountryResolver):
    """Remembers the answers of another resolver for the most recent `size` address texts."""

    def __init__(self, inner: CountryResolver, size: int = 4096) -> None:
        self._inner = inner
        self._size = size
        self._answers: OrderedDict[str, str | None] = OrderedDict()

    def country(self, address: str) -> str | None:
        """The inner resolver's answer, from the cache when the text was asked lately."""
        if address in self._answers:
            self._answers.move_to_end(address)
            return self._answers[address]
        answer = self._inner.country(address)
        self._answers[address] = answer
        if len(self._answers) > self._size:
            self._answers.popitem(last=False)
        return answer

    def lookup(self, address: IPAddress) -> str | None:
        """The inner resolver's stored code for `address`."""
        return self._inner.lookup(address)
