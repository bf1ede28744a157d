"""The streaming detector: event rules over entries in time order, absence rules on demand.

`Detector.observe(entry)` runs every threshold and sequence rule on one entry and returns
the alerts it completes; `Detector.silent(now)` reports services that stopped sending.

Each rule keeps state per group (the tenant plus the rule's `group_by` values). A threshold
rule is handled as a sequence of one counted step. For every step a group keeps the last
`count` matching events, and for every completed step the match so far that started
latest, so memory per group is one match's worth of events whatever the traffic.

De-duplication: when a group completes a match it raises one alert, then stays quiet for
one window; matches completed while quiet raise nothing. A burst therefore gives one alert
per group and window, and a burst that goes on gives one alert per window.

Bounds (all per rule, constructor arguments with these defaults):

- groups: at most `max_groups` (10,000), and at most `max_events` (100,000) divided by the
  events one match needs; beyond that the least recently active group is forgotten
  (`DetectorStats.dropped_groups` counts them);
- a group is dropped as soon as its newest event is older than the window;
- an alert lists at most `MAX_EVIDENCE` sequence numbers (the first and the last half);
- arrivals are remembered for at most `max_sources` (tenant, service) pairs.

Entries should come in time order (`Entry.at`). An entry older than the newest one seen
minus a rule's window can no longer change that rule's result and is skipped by it.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mamori.core.text import LText
from mamori.ledger.detection.conditions import TEXT_FIELDS, Match, format_duration
from mamori.ledger.detection.rules import AbsenceRule, EventRule, Rule, RuleKind, RuleText
from mamori.ledger.events import Severity
from mamori.ledger.geo import CachingResolver, CountryResolver
from mamori.ledger.reading import Entry

MAX_EVIDENCE = 50
DEFAULT_MAX_GROUPS = 10_000
DEFAULT_MAX_EVENTS = 100_000
DEFAULT_MAX_SOURCES = 100_000
SWEEP_EVERY = 1024  # entries between sweeps of expired groups over every rule

SourceKey = tuple[str | None, str]  # (tenant id or None for the provider, service id)
GroupKey = tuple[str | None, ...]  # (tenant id, then the rule's group_by values)


@dataclass(frozen=True)
class Alert:
    """A rule's finding: which group, when, how many events, and which ones (seqs)."""

    rule_id: str
    kind: RuleKind
    severity: Severity
    tenant_id: str | None
    service_id: str | None  # the group's, else that of the event completing the match
    group: Mapping[str, str]  # the rule's group_by fields and their values
    first_at: datetime
    last_at: datetime
    count: int  # events in the match; 0 for absence
    seqs: tuple[int, ...]  # ledger sequence numbers of the evidence, capped
    params: Mapping[str, str]  # the summary's placeholders
    title: LText
    summary: LText


@dataclass(frozen=True)
class DetectorStats:
    """How much state the detector holds, against its bounds."""

    groups: int
    events: int
    group_capacity: int
    event_capacity: int
    sources: int
    dropped_groups: int


@dataclass(frozen=True, slots=True)
class _Partial:
    """A match of the first steps: when it started, how many events, which (capped)."""

    start: datetime
    count: int
    seqs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    """An event for a step, with the match of the earlier steps it extends."""

    at: datetime
    seq: int
    prefix: _Partial


@dataclass(slots=True)
class _Group:
    pending: list[deque[_Hit]]  # per step: its last `count` hits
    done: list[_Partial | None]  # per step: the latest-starting match through that step
    last_at: datetime
    quiet_until: datetime | None = None

    def size(self) -> int:
        """The events held."""
        return sum(len(queue) for queue in self.pending)


def _capped(seqs: tuple[int, ...]) -> tuple[int, ...]:
    """At most MAX_EVIDENCE sequence numbers: the first and the last half."""
    if len(seqs) <= MAX_EVIDENCE:
        return seqs
    half = MAX_EVIDENCE // 2
    return seqs[:half] + seqs[-half:]


def _extend(prefix: _Partial, hits: deque[_Hit]) -> _Partial:
    """`prefix` followed by all of `hits`, reading only the hits evidence can keep."""
    total, half = len(hits), MAX_EVIDENCE // 2
    indexes = range(total) if total <= MAX_EVIDENCE else [*range(half), *range(total - half, total)]
    seqs = _capped(prefix.seqs + tuple(hits[index].seq for index in indexes))
    return _Partial(prefix.start, prefix.count + total, seqs)


class _RuleState:
    """One event rule's groups, oldest activity first."""

    def __init__(self, rule: EventRule, max_groups: int, max_events: int) -> None:
        self.rule = rule
        self.capacity = max(1, min(max_groups, max_events // rule.events_per_group))
        self.groups: OrderedDict[GroupKey, _Group] = OrderedDict()
        self.dropped = 0

    def key(self, entry: Entry) -> GroupKey | None:
        """The group of `entry`; None when it lacks a grouping value (e.g. no actor)."""
        values = tuple(TEXT_FIELDS[name](entry) for name in self.rule.group_by)
        if not all(values):
            return None
        return (entry.tenant_id, *values)

    def group(self, key: GroupKey, at: datetime) -> _Group:
        """The state of `key`, made when new; the least recently active goes when full."""
        group = self.groups.get(key)
        if group is None:
            steps = self.rule.steps
            group = _Group([deque(maxlen=step.count) for step in steps], [None] * len(steps), at)
            self.groups[key] = group
            while len(self.groups) > self.capacity:
                self.groups.popitem(last=False)
                self.dropped += 1
        else:
            self.groups.move_to_end(key)
            group.last_at = max(group.last_at, at)
        return group

    def expire(self, watermark: datetime) -> None:
        """Forget groups whose newest event is older than the window."""
        window = self.rule.window
        while self.groups:
            key, group = next(iter(self.groups.items()))
            if watermark - group.last_at <= window:
                return
            del self.groups[key]

    def advance(self, group: _Group, index: int, entry: Entry) -> _Partial | None:
        """Feed `entry` to step `index`; the completed match when it ends the sequence."""
        rule, at = self.rule, entry.at
        if index == 0:
            prefix = _Partial(at, 0, ())
        else:
            previous = group.done[index - 1]
            if previous is None or at - previous.start > rule.window:
                return None
            prefix = previous
        queue = group.pending[index]
        queue.append(_Hit(at, entry.seq, prefix))
        if len(queue) < rule.steps[index].count or at - queue[0].prefix.start > rule.window:
            return None
        if index < len(rule.steps) - 1:
            current = group.done[index]
            if current is None or queue[0].prefix.start >= current.start:
                group.done[index] = _extend(queue[0].prefix, queue)
            return None
        if group.quiet_until is not None and at < group.quiet_until:
            return None
        completed = _extend(queue[0].prefix, queue)
        group.quiet_until = at + rule.window
        for pending in group.pending:
            pending.clear()
        group.done = [None] * len(rule.steps)
        return completed


class Detector:
    """Runs detection rules over a stream of ledger entries; see the module docstring."""

    def __init__(
        self,
        rules: Iterable[Rule],
        geo: CountryResolver,
        *,
        max_groups: int = DEFAULT_MAX_GROUPS,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_sources: int = DEFAULT_MAX_SOURCES,
    ) -> None:
        enabled = [rule for rule in rules if rule.enabled]
        self._states = [
            _RuleState(rule, max_groups, max_events)
            for rule in enabled
            if isinstance(rule, EventRule)
        ]
        self._absence = [rule for rule in enabled if isinstance(rule, AbsenceRule)]
        # Rules often share a condition (failed sign-ins, exports): each distinct match is
        # tested once per entry, and only the rule steps it passes are fed.
        self._subscribers: dict[Match, list[tuple[int, int]]] = {}
        for position, state in enumerate(self._states):
            for index, step in enumerate(state.rule.steps):
                self._subscribers.setdefault(step.match, []).append((position, index))
        self._geo = CachingResolver(geo)
        self._max_sources = max_sources
        self._watermark: datetime | None = None
        self._arrivals: OrderedDict[SourceKey, datetime] = OrderedDict()
        self._silenced: dict[tuple[str, str | None, str], datetime] = {}
        self._observed = 0

    def observe(self, entry: Entry) -> list[Alert]:
        """The alerts `entry` completes (usually none)."""
        at = entry.at
        if self._watermark is None or at > self._watermark:
            self._watermark = at
        watermark = self._watermark
        self._note_arrival(entry)
        alerts = []
        for position, steps in sorted(self._matched_steps(entry).items()):
            alert = self._observe_rule(self._states[position], entry, watermark, steps)
            if alert is not None:
                alerts.append(alert)
        self._observed += 1
        if self._observed % SWEEP_EVERY == 0:
            for state in self._states:
                state.expire(watermark)
        return alerts

    def _matched_steps(self, entry: Entry) -> dict[int, list[int]]:
        """Rule position -> the indexes (ascending) of its steps that `entry` matches."""
        matched: dict[int, list[int]] = {}
        for match, subscribers in self._subscribers.items():
            if match.passes(entry, self._geo):
                for position, index in subscribers:
                    matched.setdefault(position, []).append(index)
        for steps in matched.values():
            steps.sort()
        return matched

    def _observe_rule(
        self, state: _RuleState, entry: Entry, watermark: datetime, matched: list[int]
    ) -> Alert | None:
        rule = state.rule
        if watermark - entry.at > rule.window:
            return None
        key = state.key(entry)
        if key is None:
            return None
        state.expire(watermark)
        group = state.group(key, entry.at)
        # Last step first, so one event never both completes a step and counts for the next.
        for index in reversed(matched):
            completed = state.advance(group, index, entry)
            if completed is not None:
                return self._event_alert(rule, key, completed, entry)
        return None

    def _event_alert(self, rule: EventRule, key: GroupKey, match: _Partial, entry: Entry) -> Alert:
        group = dict(zip(rule.group_by, (str(value) for value in key[1:]), strict=True))
        tenant_id = key[0]
        service_id = group.get("service_id", entry.service_id)
        country = self._geo.country(entry.source_address) if rule.uses_geo else None
        params = {
            "tenant_id": tenant_id or "-",
            "service_id": service_id or "-",
            "count": str(match.count),
            "window": format_duration(rule.window),
            "action": entry.action or "-",
            "first": match.start.isoformat(),
            "last": entry.at.isoformat(),
            "country": country or "-",
            **group,
        }
        return Alert(
            rule_id=rule.id,
            kind=rule.kind,
            severity=rule.severity,
            tenant_id=tenant_id,
            service_id=service_id,
            group=group,
            first_at=match.start,
            last_at=entry.at,
            count=match.count,
            seqs=match.seqs,
            params=params,
            title=rule.text.title,
            summary=_render(rule.text, params),
        )

    def _note_arrival(self, entry: Entry) -> None:
        if entry.service_id is None:
            return
        source = (entry.tenant_id, entry.service_id)
        previous = self._arrivals.get(source)
        if previous is None or entry.received_at >= previous:
            self._arrivals[source] = entry.received_at
        self._arrivals.move_to_end(source)
        while len(self._arrivals) > self._max_sources:
            self._arrivals.popitem(last=False)

    def last_seen(self) -> dict[SourceKey, datetime]:
        """When each (tenant, service) last delivered an observed entry (arrival time)."""
        return dict(self._arrivals)

    def silent(
        self, now: datetime, last_seen: Mapping[SourceKey, datetime] | None = None
    ) -> list[Alert]:
        """Alerts for services silent longer than their interval, once per silence.

        `last_seen` maps (tenant id or None, service id) to the last arrival; by default
        the arrivals this detector observed. Include every expected pair (with the time it
        was set up, if it never sent anything) so a service that never started is found.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        now = now.astimezone(UTC)
        sources = self.last_seen() if last_seen is None else last_seen
        alerts, still_silent = [], set()
        for rule in self._absence:
            for (tenant_id, service_id), seen_at in sources.items():
                interval = rule.interval_for(service_id)
                if interval is None or now - seen_at <= interval:
                    continue
                key = (rule.id, tenant_id, service_id)
                still_silent.add(key)
                if self._silenced.get(key) != seen_at:
                    self._silenced[key] = seen_at
                    alerts.append(_absence_alert(rule, tenant_id, service_id, seen_at, now))
        # A source that sent again (or is gone) may raise a new alert when it next goes quiet.
        for key in set(self._silenced) - still_silent:
            del self._silenced[key]
        return alerts

    def stats(self) -> DetectorStats:
        """The state held now, and its bounds."""
        return DetectorStats(
            groups=sum(len(state.groups) for state in self._states),
            events=sum(group.size() for state in self._states for group in state.groups.values()),
            group_capacity=sum(state.capacity for state in self._states),
            event_capacity=sum(
                state.capacity * state.rule.events_per_group for state in self._states
            ),
            sources=len(self._arrivals),
            dropped_groups=sum(state.dropped for state in self._states),
        )


def _absence_alert(
    rule: AbsenceRule, tenant_id: str | None, service_id: str, seen_at: datetime, now: datetime
) -> Alert:
    interval = rule.interval_for(service_id) or rule.interval
    params = {
        "tenant_id": tenant_id or "-",
        "service_id": service_id,
        "interval": format_duration(interval),
        "last_seen": seen_at.isoformat(),
        "silent_for": format_duration(timedelta(seconds=int((now - seen_at).total_seconds()))),
    }
    return Alert(
        rule_id=rule.id,
        kind=rule.kind,
        severity=rule.severity,
        tenant_id=tenant_id,
        service_id=service_id,
        group={"service_id": service_id},
        first_at=seen_at,
        last_at=now,
        count=0,
        seqs=(),
        params=params,
        title=rule.text.title,
        summary=_render(rule.text, params),
    )


def _render(text: RuleText, params: Mapping[str, str]) -> LText:
    """The rule's summary with its placeholders filled (checked when the rule was loaded)."""
    return LText(ja=text.summary.ja % params, en=text.summary.en % params)
