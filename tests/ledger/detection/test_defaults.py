"""Each default rule fires on its fixtures and stays quiet on the near misses.

A fixture file (`fixtures/<rule id>.yaml`) holds cases. Each case lists events, runs every
default rule over them and expects exactly the listed alerts, in order. An event's `at`
is an offset from a fixed start (`90s`, `10m`, `1h`); `repeat` and `every` make a burst,
with `{n}` in a text field replaced by the event's number in the burst (from 1). A case's
`silent` checks run the absence rules at a given offset, optionally with explicit
`last_seen` arrivals instead of those the detector observed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamori.ledger.detection import Alert, Detector, default_rules
from mamori.ledger.events import Outcome, Severity
from mamori.ledger.geo import StaticCountryResolver
from mamori.ledger.reading import Entry

FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
TENANT = "midori-city-boe"
SERVICE = "manabi-portal"
# Countries as the Debian geoip-database has them (test_geo checks these against it).
STATIC_COUNTRIES = {
    "133.11.0.0/16": "JP",
    "202.12.27.0/24": "JP",
    "2001:200::/32": "JP",
    "8.8.8.0/24": "US",
    "2001:4860::/32": "US",
    "81.2.69.0/24": "GB",
}
_OFFSET = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def offset(text: str | int) -> datetime:
    """START plus `1h2m3s` (any part optional)."""
    found = _OFFSET.fullmatch(str(text))
    assert found is not None and any(found.groups()), f"bad offset {text!r}"
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return START + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def make_entry(seq: int, at: datetime, **fields: Any) -> Entry:
    """A stored event with realistic defaults: tenant, service, class `log`, info."""
    received = fields.pop("received_at", at)
    return Entry(
        seq=seq,
        chunk_index=0,
        tenant_id=fields.pop("tenant_id", TENANT),
        service_id=fields.pop("service_id", SERVICE),
        event_class=fields.pop("event_class", "log"),
        received_at=received,
        occurred_at=at,
        severity=Severity(fields.pop("severity", "info")),
        action=fields.pop("action", ""),
        outcome=Outcome(fields.pop("outcome", "unknown")),
        actor=fields.pop("actor", ""),
        source_address=fields.pop("source_address", ""),
        message=fields.pop("message", ""),
        labels=fields.pop("labels", {}),
        original=fields.pop("original", {}),
    )


def expand(events: list[dict[str, Any]]) -> Iterator[Entry]:
    """The entries described by fixture events, numbered from 1."""
    seq = 0
    for event in events:
        spec = dict(event)
        at, repeat = offset(spec.pop("at")), int(spec.pop("repeat", 1))
        every = offset(spec.pop("every", "1s")) - START
        for number in range(1, repeat + 1):
            seq += 1
            fields = {
                key: value.replace("{n}", str(number)) if isinstance(value, str) else value
                for key, value in spec.items()
            }
            yield make_entry(seq, at + every * (number - 1), **fields)


def matches(alert: Alert, expected: Mapping[str, Any]) -> list[str]:
    """The expected fields `alert` does not have."""
    actual = {
        "rule": alert.rule_id,
        "tenant_id": alert.tenant_id,
        "service_id": alert.service_id,
        "group": dict(alert.group),
        "count": alert.count,
        "first": alert.first_at,
        "last": alert.last_at,
        "seqs": list(alert.seqs),
        "summary_en": alert.summary.en,
        "summary_ja": alert.summary.ja,
    }
    wrong = []
    for key, value in expected.items():
        want = offset(value) if key in ("first", "last") else value
        if actual[key] != want:
            wrong.append(f"{key}: expected {want!r}, got {actual[key]!r}")
    return wrong


def check_alerts(alerts: list[Alert], expected: list[dict[str, Any]], where: str) -> None:
    """`alerts` are exactly `expected`, in order."""
    got = [(alert.rule_id, dict(alert.group), alert.first_at.isoformat()) for alert in alerts]
    assert len(alerts) == len(expected), f"{where}: expected {len(expected)} alerts, got {got}"
    for index, (alert, want) in enumerate(zip(alerts, expected, strict=True)):
        wrong = matches(alert, want)
        assert not wrong, f"{where}: alert {index}: " + "; ".join(wrong)


@dataclass(frozen=True)
class Case:
    """One fixture case."""

    file: str
    name: str
    spec: Mapping[str, Any]


def load_cases() -> list[Case]:
    """Every case of every fixture file."""
    cases: list[Case] = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cases.extend(Case(path.stem, case["name"], case) for case in data["cases"])
    return cases


CASES = load_cases()


def run_case(case: Case) -> None:
    """Feed the case's events to a detector with the default rules; check every alert."""
    detector = Detector(default_rules(), StaticCountryResolver(STATIC_COUNTRIES))
    alerts = [
        alert for entry in expand(case.spec.get("events", [])) for alert in detector.observe(entry)
    ]
    check_alerts(alerts, case.spec.get("alerts", []), f"{case.file}: {case.name}")
    for number, check in enumerate(case.spec.get("silent", [])):
        last_seen = None
        if "last_seen" in check:
            last_seen = {
                (item.get("tenant_id", TENANT), item.get("service_id", SERVICE)): offset(item["at"])
                for item in check["last_seen"]
            }
        found = detector.silent(offset(check["now"]), last_seen)
        check_alerts(found, check.get("alerts", []), f"{case.file}: {case.name}: silent {number}")


@pytest.mark.parametrize("case", CASES, ids=[f"{case.file}: {case.name}" for case in CASES])
def test_fixture_case(case: Case) -> None:
    run_case(case)


def test_every_default_rule_has_firing_and_quiet_fixtures() -> None:
    for rule in default_rules():
        cases = [case for case in CASES if case.file == rule.id]
        fired = [
            case
            for case in cases
            if any(alert["rule"] == rule.id for alert in case.spec.get("alerts", []))
            or any(
                alert["rule"] == rule.id
                for check in case.spec.get("silent", [])
                for alert in check.get("alerts", [])
            )
        ]
        assert fired, f"no fixture fires {rule.id}"
        assert len(fired) < len(cases), f"no near-miss fixture for {rule.id}"


def test_fixture_files_name_default_rules() -> None:
    ids = {rule.id for rule in default_rules()}
    assert {case.file for case in CASES} <= ids
