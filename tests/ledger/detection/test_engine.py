"""The detector: one alert per burst, windows, tenants, evidence, absence and bounded memory."""

from __future__ import annotations

import random
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mamori.ledger.detection import Detector, Rule, default_rules, load_rules
from mamori.ledger.detection.engine import MAX_EVIDENCE
from mamori.ledger.geo import StaticCountryResolver
from mamori.ledger.reading import Entry
from tests.ledger.detection.test_defaults import START, STATIC_COUNTRIES, make_entry

GEO = StaticCountryResolver(STATIC_COUNTRIES)
TEXTS = "title: {ja: 題, en: Title}\n    description: {ja: 説明, en: Description}"


def rules(tmp_path: Path, *bodies: str) -> tuple[Rule, ...]:
    """Rules from YAML snippets, each the fields of one rule after id and severity."""
    text = "rules:\n"
    for number, body in enumerate(bodies):
        text += f"  - id: rule_{number}\n    severity: warning\n    {TEXTS}\n"
        text += textwrap.indent(textwrap.dedent(body), "    ")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


FAILURES = """\
kind: threshold
match: {outcome: failure}
group_by: [actor]
threshold: 3
window: 10m
"""


def failure(seq: int, minutes: float, actor: str = "alice", **fields: str) -> Entry:
    return make_entry(
        seq, START + timedelta(minutes=minutes), actor=actor, outcome="failure", **fields
    )


def test_a_burst_gives_one_alert(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, FAILURES), GEO)
    alerts = [alert for n in range(40) for alert in detector.observe(failure(n + 1, n * 0.1))]
    assert len(alerts) == 1
    assert alerts[0].seqs == (1, 2, 3)
    assert alerts[0].group == {"actor": "alice"}
    assert alerts[0].tenant_id == "midori-city-boe"


def test_a_new_burst_after_the_window_alerts_again(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, FAILURES), GEO)
    times = [0, 1, 2, 30, 31, 32]
    alerts = [a for n, t in enumerate(times, 1) for a in detector.observe(failure(n, t))]
    assert [alert.seqs for alert in alerts] == [(1, 2, 3), (4, 5, 6)]


def test_groups_are_per_tenant_and_per_value(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, FAILURES), GEO)
    entries = [
        failure(1, 0),
        failure(2, 1, tenant_id="sakura-town-boe"),
        failure(3, 2, actor="bob"),
        failure(4, 3),
        failure(5, 4, tenant_id="sakura-town-boe"),
    ]
    assert [alert for entry in entries for alert in detector.observe(entry)] == []
    (alert,) = detector.observe(failure(6, 5, tenant_id="sakura-town-boe"))
    assert (alert.tenant_id, alert.seqs) == ("sakura-town-boe", (2, 5, 6))


def test_evidence_is_capped_to_the_first_and_last(tmp_path: Path) -> None:
    body = FAILURES.replace("threshold: 3", "threshold: 200")
    detector = Detector(rules(tmp_path, body), GEO)
    alerts = [a for n in range(1, 201) for a in detector.observe(failure(n, n / 100))]
    (alert,) = alerts
    assert alert.count == 200
    assert len(alert.seqs) == MAX_EVIDENCE
    assert alert.seqs == (*range(1, 26), *range(176, 201))


def test_late_entries_are_skipped(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, FAILURES), GEO)
    detector.observe(make_entry(1, START + timedelta(hours=1), actor="someone"))
    late = [failure(n, n) for n in range(2, 5)]
    assert [alert for entry in late for alert in detector.observe(entry)] == []


def test_one_event_never_fills_two_steps(tmp_path: Path) -> None:
    body = """\
    kind: sequence
    group_by: [actor]
    window: 10m
    steps:
      - match: {outcome: failure}
      - match: {outcome: failure}
    """
    detector = Detector(rules(tmp_path, body), GEO)
    assert detector.observe(failure(1, 0)) == []
    (alert,) = detector.observe(failure(2, 1))
    assert (alert.count, alert.seqs, alert.first_at) == (2, (1, 2), START)


def test_a_sequence_uses_the_latest_start(tmp_path: Path) -> None:
    body = """\
    kind: sequence
    group_by: [actor]
    window: 10m
    steps:
      - match: {action: grant}
      - match: {action: export}
        count: 2
    """
    detector = Detector(rules(tmp_path, body), GEO)
    entries = [
        make_entry(1, START, actor="a", action="grant"),
        make_entry(2, START + timedelta(minutes=8), actor="a", action="grant"),
        make_entry(3, START + timedelta(minutes=12), actor="a", action="export"),
        make_entry(4, START + timedelta(minutes=13), actor="a", action="export"),
    ]
    alerts = [alert for entry in entries for alert in detector.observe(entry)]
    assert [(alert.seqs, alert.first_at) for alert in alerts] == [
        ((2, 3, 4), START + timedelta(minutes=8))
    ]


def test_disabled_rules_do_not_run(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, FAILURES + "enabled: false\n"), GEO)
    assert [a for n in range(5) for a in detector.observe(failure(n + 1, n))] == []


ABSENCE = """\
kind: absence
interval: 30m
intervals: {nightly-batch: 1d}
summary:
  ja: "%(service_id)s 停止 %(silent_for)s"
  en: "%(service_id)s silent for %(silent_for)s"
"""


def test_absence_alerts_once_per_silence(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, ABSENCE), GEO)
    detector.observe(make_entry(1, START))
    assert detector.silent(START + timedelta(minutes=30)) == []
    (alert,) = detector.silent(START + timedelta(minutes=45))
    assert alert.summary.en == "manabi-portal silent for 45m"
    assert (alert.first_at, alert.count, alert.seqs) == (START, 0, ())
    assert detector.silent(START + timedelta(hours=2)) == []
    detector.observe(make_entry(2, START + timedelta(hours=3)))
    assert detector.silent(START + timedelta(hours=3, minutes=10)) == []
    (again,) = detector.silent(START + timedelta(hours=4))
    assert again.first_at == START + timedelta(hours=3)


def test_absence_interval_per_service(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, ABSENCE), GEO)
    seen = {(None, "nightly-batch"): START, ("midori-city-boe", "portal"): START}
    found = detector.silent(START + timedelta(hours=2), seen)
    assert [(alert.tenant_id, alert.service_id) for alert in found] == [
        ("midori-city-boe", "portal")
    ]
    (late,) = detector.silent(START + timedelta(days=1, minutes=1), seen)
    assert (late.tenant_id, late.service_id) == (None, "nightly-batch")


def test_silent_needs_an_aware_time(tmp_path: Path) -> None:
    detector = Detector(rules(tmp_path, ABSENCE), GEO)
    with pytest.raises(ValueError, match="timezone-aware"):
        detector.silent(START.replace(tzinfo=None))


def random_event(seq: int, rng: random.Random, seconds: float) -> Entry:
    """A sign-in failure, a foreign sign-in or an export by a random actor."""
    kind = rng.random()
    action, outcome, address = "auth.sign_in", "failure", f"133.11.{rng.randrange(256)}.1"
    if kind < 0.2:
        outcome, address = "success", "8.8.8.8"
    elif kind < 0.4:
        action, outcome = "s3:GetObject", "success"
    return make_entry(
        seq,
        START + timedelta(seconds=seconds),
        actor=f"user{rng.randrange(1_000_000)}",
        action=action,
        outcome=outcome,
        source_address=address,
        tenant_id=rng.choice(["midori-city-boe", "sakura-town-boe"]),
    )


def test_memory_stays_bounded_over_a_long_stream() -> None:
    detector = Detector(default_rules(), GEO)
    rng = random.Random(17)  # noqa: S311 - reproducible test data, not a secret
    started = time.perf_counter()
    for seq in range(1, 200_001):
        detector.observe(random_event(seq, rng, seq * 0.5))
        if seq % 10_000 == 0:
            stats = detector.stats()
            assert stats.groups <= stats.group_capacity, stats
            assert stats.events <= stats.event_capacity, stats
    assert time.perf_counter() - started < 60
    # Two days on, every window has passed: a sweep releases all the groups.
    later = START + timedelta(days=3)
    for seq in range(200_001, 200_001 + 1024):
        detector.observe(make_entry(seq, later, action="heartbeat"))
    assert detector.stats().groups == 0
    assert detector.stats().events == 0


def test_a_flood_of_new_groups_is_capped() -> None:
    detector = Detector(default_rules(), GEO, max_groups=500, max_events=5_000)
    rng = random.Random(3)  # noqa: S311 - reproducible test data, not a secret
    for seq in range(1, 20_001):
        detector.observe(random_event(seq, rng, seq * 0.001))
    stats = detector.stats()
    assert stats.groups <= stats.group_capacity
    assert stats.events <= stats.event_capacity <= 7 * 5_000
    assert stats.dropped_groups > 0
