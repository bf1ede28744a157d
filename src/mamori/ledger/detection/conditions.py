"""Match conditions of detection rules, and reading them (and durations) from YAML.

A condition is a mapping of field tests that must all pass; a `match` is one condition or a
list of them, any of which may pass. Text fields take a value, a `{regex: ...}` (the whole
value must match) or a list of those. `min_severity` passes at that level or above, `labels`
tests label values, and `country` / `country_not` resolve `source_address` through a
`CountryResolver` (an address with no known country passes neither).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.core.yamlsource import PathKey, YamlDocument
from mamori.ledger.events import Outcome, Severity
from mamori.ledger.geo import CountryResolver
from mamori.ledger.reading import Entry
from mamori.ledger.records import EventClass

MAX_PATTERN_LENGTH = 500  # a longer regex in a rule file is almost surely a mistake
SEVERITY_RANK = {level: rank for rank, level in enumerate(reversed(list(Severity)))}

TEXT_FIELDS: dict[str, Callable[[Entry], str | None]] = {
    "action": lambda entry: entry.action,
    "outcome": lambda entry: entry.outcome,  # a StrEnum: compares and hashes as its text
    "event_class": lambda entry: entry.event_class,
    "service_id": lambda entry: entry.service_id,
    "tenant_id": lambda entry: entry.tenant_id,
    "actor": lambda entry: entry.actor,
    "source_address": lambda entry: entry.source_address,
}
_ENUM_VALUES = {
    "outcome": [item.value for item in Outcome],
    "event_class": [item.value for item in EventClass],
}
MATCH_FIELDS = (*TEXT_FIELDS, "min_severity", "labels", "country", "country_not")
_DURATION = re.compile(r"(?:(\d{1,5})d)?(?:(\d{1,5})h)?(?:(\d{1,5})m)?(?:(\d{1,5})s)?")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Node:
    """A value read from a YAML document, with its path for error messages."""

    document: YamlDocument
    path: PathKey
    value: Any

    def error(self, message: str, **params: Any) -> InputError:
        """An input error at this value."""
        return self.document.error(message, self.path, **params)

    def at(self, key: str | int, value: Any) -> Node:
        """The child `key` holding `value`."""
        return Node(self.document, (*self.path, key), value)

    def fields(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Node]:
        """The children of a mapping; an unknown or missing key is an error."""
        if not isinstance(self.value, dict):
            raise self.error(N_("must be a mapping"))
        for key in self.value:
            if key not in allowed:
                raise self.at(key, None).error(N_("unknown field"))
        for key in required:
            if key not in self.value:
                raise self.at(key, None).error(N_("this field is required"))
        return {key: self.at(key, value) for key, value in self.value.items()}

    def items(self) -> list[Node]:
        """The children of a non-empty list; a single value counts as a list of one."""
        if not isinstance(self.value, list):
            return [self]
        if not self.value:
            raise self.error(N_("must not be empty"))
        return [self.at(index, value) for index, value in enumerate(self.value)]

    def text(self) -> str:
        """A non-empty string."""
        if not isinstance(self.value, str):
            raise self.error(N_("must be text"))
        if not self.value.strip():
            raise self.error(N_("must not be empty"))
        return self.value

    def choice(self, choices: list[str]) -> str:
        """One of `choices`."""
        value = self.text()
        if value not in choices:
            raise self.error(N_("must be one of: %(expected)s"), expected=", ".join(choices))
        return value

    def integer(self, low: int, high: int) -> int:
        """A whole number between `low` and `high`."""
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise self.error(N_("must be a whole number"))
        if self.value < low:
            raise self.error(N_("must be at least %(ge)s"), ge=low)
        if self.value > high:
            raise self.error(N_("must be at most %(le)s"), le=high)
        return self.value

    def duration(self, low: timedelta, high: timedelta) -> timedelta:
        """A duration such as `30s`, `10m`, `1h30m` or `2d`, between `low` and `high`."""
        found = _DURATION.fullmatch(self.value) if isinstance(self.value, str) else None
        if found is None or not any(found.groups()):
            raise self.error(N_("must be a duration such as 30s, 10m, 1h or 2d"))
        days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
        value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if value < low:
            raise self.error(N_("must be at least %(ge)s"), ge=format_duration(low))
        if value > high:
            raise self.error(N_("must be at most %(le)s"), le=format_duration(high))
        return value


def format_duration(value: timedelta) -> str:
    """`1h30m` for 90 minutes: the shortest form `Node.duration` reads back."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class TextMatch:
    """Passes a value equal to one of `values` or fully matching one of `patterns`."""

    values: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    def passes(self, value: str | None) -> bool:
        """Whether `value` is accepted; a missing value never is."""
        if value is None:
            return False
        if value in self.values:
            return True
        return any(pattern.fullmatch(value) for pattern in self.patterns)


@dataclass(frozen=True)
class Condition:
    """Field tests that must all pass for an entry to match."""

    texts: tuple[tuple[str, TextMatch], ...] = ()
    labels: tuple[tuple[str, TextMatch], ...] = ()
    min_severity: Severity | None = None
    countries: frozenset[str] | None = None
    countries_not: frozenset[str] | None = None

    @property
    def uses_geo(self) -> bool:
        """Whether this condition needs the country of the source address."""
        return self.countries is not None or self.countries_not is not None

    def passes(self, entry: Entry, geo: CountryResolver) -> bool:
        """Whether `entry` passes every test (the country lookup, the slowest, last)."""
        if self.min_severity is not None and (
            SEVERITY_RANK[entry.severity] < SEVERITY_RANK[self.min_severity]
        ):
            return False
        # Plain loops: this runs for every rule on every entry.
        for name, test in self.texts:
            if not test.passes(TEXT_FIELDS[name](entry)):
                return False
        for key, test in self.labels:
            if not test.passes(entry.labels.get(key)):
                return False
        if not self.uses_geo:
            return True
        country = geo.country(entry.source_address)
        if country is None:
            return False
        if self.countries is not None and country not in self.countries:
            return False
        return self.countries_not is None or country not in self.countries_not


@dataclass(frozen=True)
class Match:
    """Alternatives: an entry matches when any condition passes."""

    conditions: tuple[Condition, ...]

    @property
    def uses_geo(self) -> bool:
        """Whether any alternative needs the country of the source address."""
        return any(condition.uses_geo for condition in self.conditions)

    def passes(self, entry: Entry, geo: CountryResolver) -> bool:
        """Whether `entry` matches."""
        return any(condition.passes(entry, geo) for condition in self.conditions)


def read_match(node: Node) -> Match:
    """A `match:` value: one mapping of tests, or a list of alternative mappings."""
    alternatives = node.items() if isinstance(node.value, list) else [node]
    return Match(tuple(_read_condition(item) for item in alternatives))


def _read_condition(node: Node) -> Condition:
    fields = node.fields(MATCH_FIELDS)
    texts = [
        (name, read_text_match(fields[name], _ENUM_VALUES.get(name)))
        for name in TEXT_FIELDS
        if name in fields
    ]
    # Set lookups before regular expressions: the cheap tests reject most entries.
    texts.sort(key=lambda item: len(item[1].patterns))
    labels = _read_labels(fields["labels"]) if "labels" in fields else ()
    severity = None
    if "min_severity" in fields:
        severity = Severity(fields["min_severity"].choice([level.value for level in Severity]))
    return Condition(
        texts=tuple(texts),
        labels=labels,
        min_severity=severity,
        countries=_countries(fields.get("country")),
        countries_not=_countries(fields.get("country_not")),
    )


def _read_labels(node: Node) -> tuple[tuple[str, TextMatch], ...]:
    if not isinstance(node.value, dict):
        raise node.error(N_("must be a mapping"))
    return tuple((key, read_text_match(node.at(key, value))) for key, value in node.value.items())


def read_text_match(node: Node, choices: list[str] | None = None) -> TextMatch:
    """Text, `{regex: pattern}`, or a list of those; literals must be among `choices`."""
    values: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for item in node.items():
        if isinstance(item.value, dict):
            patterns.append(read_pattern(item.fields(("regex",), ("regex",))["regex"]))
        elif isinstance(item.value, str):
            values.add(item.choice(choices) if choices else item.text())
        else:
            raise item.error(N_("must be text, {regex: pattern}, or a list of those"))
    return TextMatch(frozenset(values), tuple(patterns))


def read_pattern(node: Node) -> re.Pattern[str]:
    """A regular expression, compiled once; length-limited."""
    text = node.text()
    if len(text) > MAX_PATTERN_LENGTH:
        raise node.error(
            N_("the pattern has %(length)s characters; the limit is %(limit)s"),
            length=len(text),
            limit=MAX_PATTERN_LENGTH,
        )
    try:
        return re.compile(text)
    except re.error as exc:
        raise node.error(
            N_("not a valid regular expression: %(problem)s"), problem=str(exc)
        ) from exc


def _countries(node: Node | None) -> frozenset[str] | None:
    if node is None:
        return None
    codes = set()
    for item in node.items():
        code = item.text()
        if not _COUNTRY.fullmatch(code):
            raise item.error(
                N_("has an invalid format (expected %(pattern)s)"), pattern="JP, US, ... (ISO 3166)"
            )
        codes.add(code)
    return frozenset(codes)
