"""Rule files: what they may say, and errors that name the file, line and field."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori.core.errors import InputError
from mamori.ledger.detection import Detector
from mamori.ledger.detection.conditions import MAX_PATTERN_LENGTH, format_duration
from mamori.ledger.detection.rules import (
    AbsenceRule,
    EventRule,
    RuleKind,
    default_rules,
    load_rules,
)
from mamori.ledger.geo import StaticCountryResolver
from tests.ledger.detection.test_defaults import make_entry

TEXTS = """\
    title: {ja: 失敗, en: Failures}
    description: {ja: 説明, en: Description}
"""
GEO = StaticCountryResolver({"8.8.8.0/24": "US", "133.11.0.0/16": "JP"})
AT = datetime(2026, 4, 1, tzinfo=UTC)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def threshold_rule(
    extra: str = "", *, match: str = "{outcome: failure}", window: str = "10m"
) -> str:
    """A valid threshold rule file, with `extra` lines added to the rule."""
    return (
        "rules:\n"
        "  - id: failures\n"
        "    kind: threshold\n"
        "    severity: warning\n"
        + textwrap.indent(textwrap.dedent(TEXTS), "    ")
        + f"    match: {match}\n"
        + "    threshold: 5\n"
        + f"    window: {window}\n"
        + extra
    )


def load_error(tmp_path: Path, body: str) -> InputError:
    with pytest.raises(InputError) as caught:
        load_rules(write(tmp_path, body), "rules.yaml")
    return caught.value


def test_a_valid_threshold_rule(tmp_path: Path) -> None:
    (rule,) = load_rules(write(tmp_path, threshold_rule("    group_by: [actor]\n")))
    assert isinstance(rule, EventRule)
    assert rule.kind is RuleKind.THRESHOLD
    assert rule.window == timedelta(minutes=10)
    assert rule.steps[0].count == 5
    assert rule.group_by == ("actor",)
    assert rule.text.summary == rule.text.title


def test_a_title_with_a_percent_sign_is_its_own_summary(tmp_path: Path) -> None:
    body = threshold_rule().replace("en: Failures", "en: 100% failures")
    detector = Detector(load_rules(write(tmp_path, body)), GEO)
    entries = [make_entry(n, AT + timedelta(seconds=n), outcome="failure") for n in range(5)]
    (alert,) = [alert for entry in entries for alert in detector.observe(entry)]
    assert alert.summary.en == "100% failures"


def test_unknown_kind_names_line_and_field(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule().replace("kind: threshold", "kind: treshold"))
    assert (error.file, error.line, error.field) == ("rules.yaml", 3, "rules[0].kind")
    assert "threshold, sequence, absence" in str(error)
    assert str(error).startswith("rules.yaml:3: field 'rules[0].kind': must be one of")


def test_bad_regex(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule(match='{action: {regex: "auth.(sign_in"}}'))
    assert (error.line, error.field) == (7, "rules[0].match.action.regex")
    assert "not a valid regular expression" in str(error)


def test_overlong_regex(tmp_path: Path) -> None:
    pattern = "a" * (MAX_PATTERN_LENGTH + 1)
    error = load_error(tmp_path, threshold_rule(match=f"{{action: [x, {{regex: {pattern}}}]}}"))
    assert error.field == "rules[0].match.action[1].regex"
    assert f"the limit is {MAX_PATTERN_LENGTH}" in str(error)


def test_missing_threshold(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule().replace("    threshold: 5\n", ""))
    assert (error.line, error.field) == (2, "rules[0].threshold")
    assert "this field is required" in str(error)


def test_unknown_field(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule("    treshold: 6\n"))
    assert (error.line, error.field) == (10, "rules[0].treshold")
    assert "unknown field" in str(error)


def test_unknown_match_field(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule(match="\n      outcome: failure\n      user: x"))
    assert (error.line, error.field) == (9, "rules[0].match.user")


def test_field_of_another_kind_is_unknown(tmp_path: Path) -> None:
    error = load_error(tmp_path, threshold_rule("    interval: 1h\n"))
    assert error.field == "rules[0].interval"


@pytest.mark.parametrize("window", ["10", "10 minutes", "1w", "m", "0s", "8d", "-5m"])
def test_bad_duration(tmp_path: Path, window: str) -> None:
    error = load_error(tmp_path, threshold_rule(window=f'"{window}"'))
    assert (error.line, error.field) == (9, "rules[0].window")


def test_duration_forms(tmp_path: Path) -> None:
    (rule,) = load_rules(write(tmp_path, threshold_rule(window="1h30m")))
    assert isinstance(rule, EventRule)
    assert rule.window == timedelta(minutes=90)
    assert format_duration(rule.window) == "1h30m"
    assert format_duration(timedelta(days=2, seconds=5)) == "2d5s"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("    threshold: 0\n", "rules[0].threshold", "at least 1"),
        ("    group_by: [user]\n", "rules[0].group_by[0]", "must be one of"),
        ("    group_by: actor\n", "rules[0].group_by", "must be a list"),
        ("    enabled: no-thanks\n", "rules[0].enabled", "true or false"),
        (
            '    summary: {ja: "%(user)s", en: x}\n',
            "rules[0].summary.ja",
            "unknown placeholder 'user'",
        ),
        ("    summary: {ja: x, en: 100% sure}\n", "rules[0].summary.en", "percent sign"),
        ("    summary: {ja: x}\n", "rules[0].summary.en", "required"),
    ],
)
def test_field_errors(tmp_path: Path, extra: str, field: str, message: str) -> None:
    body = threshold_rule(extra)
    if extra.strip().startswith("threshold:"):
        body = body.replace("    threshold: 5\n", "", 1)
    error = load_error(tmp_path, body)
    assert error.field == field
    assert message in str(error)


@pytest.mark.parametrize(
    ("match", "field"),
    [
        ("{outcome: failed}", "rules[0].match.outcome"),
        ("{event_class: logs}", "rules[0].match.event_class"),
        ("{min_severity: high}", "rules[0].match.min_severity"),
        ("{country_not: Japan}", "rules[0].match.country_not"),
        ("{action: 5}", "rules[0].match.action"),
        ("{action: []}", "rules[0].match.action"),
        ("{labels: [host]}", "rules[0].match.labels"),
        ("{action: {regex: x, flags: i}}", "rules[0].match.action.flags"),
        ("[{outcome: failure}, outcome]", "rules[0].match[1]"),
    ],
)
def test_match_errors(tmp_path: Path, match: str, field: str) -> None:
    assert load_error(tmp_path, threshold_rule(match=match)).field == field


def test_duplicate_ids(tmp_path: Path) -> None:
    body = threshold_rule()
    second = body.split("\n", 1)[1]
    error = load_error(tmp_path, body + second)
    assert error.field == "rules[1].id"
    assert error.line == 10


def test_sequence_needs_two_steps(tmp_path: Path) -> None:
    body = (
        "rules:\n  - id: seq_rule\n    kind: sequence\n    severity: error\n"
        + textwrap.indent(textwrap.dedent(TEXTS), "    ")
        + "    window: 5m\n    steps:\n      - match: {outcome: failure}\n"
    )
    error = load_error(tmp_path, body)
    assert (error.line, error.field) == (8, "rules[0].steps")
    assert "at least 2" in str(error)


def test_absence_rule_with_overrides(tmp_path: Path) -> None:
    body = (
        "rules:\n  - id: quiet\n    kind: absence\n    severity: warning\n"
        + textwrap.indent(textwrap.dedent(TEXTS), "    ")
        + "    intervals: {backup-agent: 1d}\n    services: [backup-agent, portal]\n"
    )
    (rule,) = load_rules(write(tmp_path, body))
    assert isinstance(rule, AbsenceRule)
    assert rule.interval_for("portal") == timedelta(hours=1)
    assert rule.interval_for("backup-agent") == timedelta(days=1)
    assert rule.interval_for("other") is None


def test_absence_interval_error(tmp_path: Path) -> None:
    body = (
        "rules:\n  - id: quiet\n    kind: absence\n    severity: warning\n"
        + textwrap.indent(textwrap.dedent(TEXTS), "    ")
        + "    intervals:\n      backup-agent: 30s\n"
    )
    error = load_error(tmp_path, body)
    assert (error.line, error.field) == (8, "rules[0].intervals.backup-agent")
    assert "at least 1m" in str(error)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ("[]\n", "", "must be a mapping"),
        ("", "", "must be a mapping"),
        ("rules: {}\n", "rules", "must be a list"),
        ("rule: []\n", "rule", "unknown field"),
        ("{}\n", "rules", "this field is required"),
    ],
)
def test_file_shape_errors(tmp_path: Path, body: str, field: str, message: str) -> None:
    error = load_error(tmp_path, body)
    assert (error.file, error.field) == ("rules.yaml", field)
    assert message in str(error)


def test_an_empty_rule_list_is_allowed(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "rules: []\n")) == ()


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "rules:\n  - id: [unclosed\n")
    assert error.line is not None


def test_defaults_load_and_cover_every_kind() -> None:
    rules = default_rules()
    kinds = {rule.kind for rule in rules}
    assert kinds == set(RuleKind)
    ids = {rule.id for rule in rules}
    assert {
        "repeated_failed_logins",
        "login_from_outside_japan",
        "privilege_granted",
        "mass_export",
        "service_stopped_sending",
    } <= ids
    for rule in rules:
        assert rule.text.title.ja and rule.text.title.en
        assert rule.text.description.ja and rule.text.description.en


def _match(tmp_path: Path, match: str) -> EventRule:
    (rule,) = load_rules(write(tmp_path, threshold_rule(match=match)))
    assert isinstance(rule, EventRule)
    return rule


def test_text_tests_are_whole_value_and_membership(tmp_path: Path) -> None:
    match = _match(tmp_path, '{action: [grant.approve, {regex: "iam:Attach.*Policy"}]}')
    passes = match.steps[0].match.passes
    assert passes(make_entry(1, AT, action="grant.approve"), GEO)
    assert passes(make_entry(1, AT, action="iam:AttachRolePolicy"), GEO)
    assert not passes(make_entry(1, AT, action="grant.approve.extra"), GEO)
    assert not passes(make_entry(1, AT, action="xiam:AttachRolePolicy"), GEO)


def test_severity_labels_and_tenant(tmp_path: Path) -> None:
    rule = _match(
        tmp_path,
        "{min_severity: warning, labels: {cloud.provider: aws}, tenant_id: midori-city-boe}",
    )
    passes = rule.steps[0].match.passes
    aws = {"cloud.provider": "aws"}
    assert passes(make_entry(1, AT, severity="error", labels=aws), GEO)
    assert passes(make_entry(1, AT, severity="warning", labels=aws), GEO)
    assert not passes(make_entry(1, AT, severity="notice", labels=aws), GEO)
    assert not passes(make_entry(1, AT, severity="error", labels={}), GEO)
    assert not passes(make_entry(1, AT, severity="error", labels=aws, tenant_id=None), GEO)


def test_country_tests(tmp_path: Path) -> None:
    inside = _match(tmp_path, "{country: JP}").steps[0].match.passes
    outside = _match(tmp_path, "{country_not: [JP]}").steps[0].match.passes
    for address, in_japan, abroad in [
        ("133.11.0.1", True, False),
        ("8.8.8.8", False, True),
        ("192.168.0.1", False, False),
        ("1.1.1.1", False, False),
        ("not an address", False, False),
    ]:
        entry = make_entry(1, AT, source_address=address)
        assert (inside(entry, GEO), outside(entry, GEO)) == (in_japan, abroad), address


def test_alternatives(tmp_path: Path) -> None:
    rule = _match(tmp_path, "[{outcome: failure}, {action: x, outcome: success}]")
    passes = rule.steps[0].match.passes
    assert passes(make_entry(1, AT, outcome="failure"), GEO)
    assert passes(make_entry(1, AT, action="x", outcome="success"), GEO)
    assert not passes(make_entry(1, AT, action="y", outcome="success"), GEO)
