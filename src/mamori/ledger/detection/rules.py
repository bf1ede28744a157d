"""Detection rules as data: the three kinds, and the YAML loader that checks every field.

A rule file is a mapping whose `rules` key holds a list of rules; an optional `definitions`
key holds anything, unread, so YAML anchors can define shared conditions. Every rule has an
`id`, a `kind`, an alert `severity`, bilingual `title` and `description`, and optionally a
bilingual `summary` template and `enabled: false`. The kinds add:

- threshold: `match`, `threshold` (events), `window` and `group_by`;
- sequence: `steps` (each a `match` and an optional `count`), `window` and `group_by`;
- absence: `interval` (default 1h), per-service `intervals`, and optional `services`.

Events are always grouped by tenant as well, so an alert never mixes two tenants' events.
Errors name the file, line and field (see `conditions.Node`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType

from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.core.yamlsource import load_yaml
from mamori.ledger.detection.conditions import Match, Node, read_match
from mamori.ledger.events import Severity

DEFAULT_RULES = Path(__file__).resolve().parent / "defaults.yaml"

GROUP_FIELDS = ("service_id", "event_class", "actor", "source_address", "action")
MAX_THRESHOLD = 1000
MAX_STEPS = 10
MAX_STEP_COUNT = 1000
MIN_WINDOW = timedelta(seconds=1)
MAX_WINDOW = timedelta(days=7)
MIN_INTERVAL = timedelta(minutes=1)
MAX_INTERVAL = timedelta(days=90)
DEFAULT_INTERVAL = timedelta(hours=1)

# Placeholders every summary of that kind may use; event rules add their group_by fields.
EVENT_PARAMS = ("tenant_id", "service_id", "count", "window", "action", "first", "last", "country")
ABSENCE_PARAMS = ("tenant_id", "service_id", "interval", "last_seen", "silent_for")

_RULE_ID = re.compile(r"[a-z][a-z0-9_]{2,63}")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_COMMON = ("id", "kind", "severity", "title", "description", "summary", "enabled")
_KIND_FIELDS = {
    "threshold": (("match", "threshold", "window", "group_by"), ("match", "threshold", "window")),
    "sequence": (("steps", "window", "group_by"), ("steps", "window")),
    "absence": (("interval", "intervals", "services"), ()),
}


class RuleKind(StrEnum):
    """What a rule looks for."""

    THRESHOLD = "threshold"  # at least N matching events of one group within a window
    SEQUENCE = "sequence"  # matching events in a given order, one group, within a window
    ABSENCE = "absence"  # a service that has sent nothing for longer than its interval


@dataclass(frozen=True)
class RuleText:
    """What readers see of a rule: its title and description, and the alert summary."""

    title: LText
    description: LText
    summary: LText  # a template with %(name)s placeholders, filled from Alert.params


@dataclass(frozen=True)
class Step:
    """One step of a sequence: `count` matching events (after the previous step completed)."""

    match: Match
    count: int = 1


@dataclass(frozen=True)
class EventRule:
    """A threshold or sequence rule; a threshold rule is a sequence of one counted step."""

    id: str
    kind: RuleKind
    severity: Severity
    text: RuleText
    steps: tuple[Step, ...]
    window: timedelta
    group_by: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def uses_geo(self) -> bool:
        """Whether any step needs the country of the source address."""
        return any(step.match.uses_geo for step in self.steps)

    @property
    def events_per_group(self) -> int:
        """How many events a group's state may hold at most: one match's worth."""
        return sum(step.count for step in self.steps)


@dataclass(frozen=True)
class AbsenceRule:
    """Services (per tenant) expected to send something at least every `interval`."""

    id: str
    severity: Severity
    text: RuleText
    interval: timedelta = DEFAULT_INTERVAL
    intervals: Mapping[str, timedelta] = field(default_factory=dict)  # per service id
    services: frozenset[str] | None = None  # None: every service
    enabled: bool = True
    kind: RuleKind = RuleKind.ABSENCE

    def interval_for(self, service_id: str) -> timedelta | None:
        """The expected interval of `service_id`, or None when this rule ignores it."""
        if self.services is not None and service_id not in self.services:
            return None
        return self.intervals.get(service_id, self.interval)


Rule = EventRule | AbsenceRule


def load_rules(path: Path, display_name: str | None = None) -> tuple[Rule, ...]:
    """The rules in the YAML file at `path`; any problem is an InputError at its line."""
    document = load_yaml(path, display_name)
    root = Node(document, (), document.data).fields(("rules", "definitions"), ("rules",))
    rules_node = root["rules"]
    if not isinstance(rules_node.value, list):
        raise rules_node.error(N_("must be a list"))
    rules = tuple(read_rule(item) for item in rules_node.items()) if rules_node.value else ()
    _check_unique(rules_node, rules)
    return rules


def _check_unique(rules_node: Node, rules: tuple[Rule, ...]) -> None:
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            id_node = rules_node.at(index, None).at("id", rule.id)
            raise id_node.error(
                N_("'%(value)s' is used twice; each %(field)s must be unique"),
                value=rule.id,
                field="id",
            )
        seen.add(rule.id)


@cache
def default_rules() -> tuple[Rule, ...]:
    """The rules mamori ships with (`defaults.yaml`), read once."""
    return load_rules(DEFAULT_RULES, "mamori/ledger/detection/defaults.yaml")


def read_rule(node: Node) -> Rule:
    """One rule from its mapping."""
    if not isinstance(node.value, dict):
        raise node.error(N_("must be a mapping"))
    kind_node = node.at("kind", node.value.get("kind"))
    if kind_node.value is None:
        raise kind_node.error(N_("this field is required"))
    kind = RuleKind(kind_node.choice([item.value for item in RuleKind]))
    allowed, required = _KIND_FIELDS[kind]
    fields = node.fields(
        (*_COMMON, *allowed), ("id", "severity", "title", "description", *required)
    )
    rule_id = fields["id"].text()
    if not _RULE_ID.fullmatch(rule_id):
        raise fields["id"].error(
            N_("has an invalid format (expected %(pattern)s)"), pattern=_RULE_ID.pattern
        )
    severity = Severity(fields["severity"].choice([level.value for level in Severity]))
    enabled = _boolean(fields["enabled"]) if "enabled" in fields else True
    if kind is RuleKind.ABSENCE:
        text = _rule_text(fields, ABSENCE_PARAMS)
        return _absence(rule_id, severity, text, enabled, fields)
    group_by = _group_by(fields.get("group_by"))
    text = _rule_text(fields, (*EVENT_PARAMS, *group_by))
    window = fields["window"].duration(MIN_WINDOW, MAX_WINDOW)
    if kind is RuleKind.THRESHOLD:
        count = fields["threshold"].integer(1, MAX_THRESHOLD)
        steps: tuple[Step, ...] = (Step(read_match(fields["match"]), count),)
    else:
        steps = _steps(fields["steps"])
    return EventRule(rule_id, kind, severity, text, steps, window, group_by, enabled)


def _absence(
    rule_id: str, severity: Severity, text: RuleText, enabled: bool, fields: dict[str, Node]
) -> AbsenceRule:
    interval = DEFAULT_INTERVAL
    if "interval" in fields:
        interval = fields["interval"].duration(MIN_INTERVAL, MAX_INTERVAL)
    intervals: dict[str, timedelta] = {}
    if "intervals" in fields:
        overrides = fields["intervals"]
        if not isinstance(overrides.value, dict):
            raise overrides.error(N_("must be a mapping"))
        for service, value in overrides.value.items():
            intervals[service] = overrides.at(service, value).duration(MIN_INTERVAL, MAX_INTERVAL)
    services = None
    if "services" in fields:
        services = frozenset(item.text() for item in fields["services"].items())
    overrides_view = MappingProxyType(intervals)
    return AbsenceRule(rule_id, severity, text, interval, overrides_view, services, enabled)


def _steps(node: Node) -> tuple[Step, ...]:
    if not isinstance(node.value, list):
        raise node.error(N_("must be a list"))
    items = node.items()
    if len(items) < 2:
        raise node.error(N_("needs at least %(min_length)s entries"), min_length=2)
    if len(items) > MAX_STEPS:
        raise node.error(N_("must be at most %(le)s"), le=MAX_STEPS)
    steps = []
    for item in items:
        fields = item.fields(("match", "count"), ("match",))
        count = fields["count"].integer(1, MAX_STEP_COUNT) if "count" in fields else 1
        steps.append(Step(read_match(fields["match"]), count))
    return tuple(steps)


def _group_by(node: Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node.value, list):
        raise node.error(N_("must be a list"))
    names = [item.choice(["tenant_id", *GROUP_FIELDS]) for item in node.items()]
    # The tenant is always part of the group; naming it changes nothing.
    return tuple(dict.fromkeys(name for name in names if name != "tenant_id"))


def _boolean(node: Node) -> bool:
    if not isinstance(node.value, bool):
        raise node.error(N_("must be true or false"))
    return node.value


def _rule_text(fields: dict[str, Node], params: tuple[str, ...]) -> RuleText:
    title = _ltext(fields["title"])
    if "summary" in fields:
        summary = _ltext(fields["summary"], params)
    else:
        # The title is plain text; as a template its percent signs must be doubled.
        summary = LText(ja=title.ja.replace("%", "%%"), en=title.en.replace("%", "%%"))
    return RuleText(title, _ltext(fields["description"]), summary)


def _ltext(node: Node, params: tuple[str, ...] | None = None) -> LText:
    """A `{ja, en}` pair; with `params`, each a template using only those placeholders."""
    fields = node.fields(("ja", "en"), ("ja", "en"))
    texts = {lang: fields[lang].text().strip() for lang in ("ja", "en")}
    if params is not None:
        for lang, text in texts.items():
            _check_template(fields[lang], text, params)
    return LText(ja=texts["ja"], en=texts["en"])


def _check_template(node: Node, text: str, params: tuple[str, ...]) -> None:
    plain = text.replace("%%", "")
    for name in _PLACEHOLDER.findall(plain):
        if name not in params:
            raise node.error(
                N_("unknown placeholder '%(name)s'; use one of: %(expected)s"),
                name=name,
                expected=", ".join(params),
            )
    if "%" in _PLACEHOLDER.sub("", plain):
        raise node.error(N_("write a literal percent sign as two percent signs"))
