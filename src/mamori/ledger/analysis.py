"""Per-tenant log analysis on request (whitepaper commitment 13).

The provider keeps logs for twelve months and never hands raw logs over; a tenant
administrator asks for an analysis of a time range instead and gets counts and short top
lists, computed from that tenant's `log` and `audit` events only and bound to the signed
head of the ledger at the time of computing. `request_analysis` records the request,
`run_analysis` computes it, and `analysis_html`, `analysis_pdf` and `analysis_csv` render
the stored result.

An event belongs to the range by when it happened (`Entry.at`, local days in the display
time zone). Chunks are picked by arrival, up to `LATE_ARRIVAL` after the range's end, so
events that shippers deliver late are still counted.
"""

from __future__ import annotations

import csv
import heapq
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.core.clock import as_utc, format_day, format_local, to_local
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_, Lang
from mamori.core.scope import Principal, TenantScope
from mamori.core.settings import Settings
from mamori.core.templating import jinja_env
from mamori.ledger.events import Outcome
from mamori.ledger.geo import CachingResolver, CountryResolver
from mamori.ledger.models import LedgerAnalysis, LedgerState
from mamori.ledger.notes import Checkpoint, split_note
from mamori.ledger.reading import Entry, Selection, entries
from mamori.ledger.records import EventClass
from mamori.publishing.renderers.html import css_font_family
from mamori.publishing.renderers.pdf import _write_pdf, installed_families
from mamori.tenants.identity_repository import IdentityRepository
from mamori.tenants.permissions import Permission

MAX_RANGE = timedelta(days=366)
LATE_ARRIVAL = timedelta(days=1)
CLASSES = frozenset({EventClass.LOG.value, EventClass.AUDIT.value})
TOP = 10  # entries in each top list of the report
TOP_LONG = 50  # services and administrative actions: few, but more than ten are common
MAX_KEYS = 10_000  # distinct keys a counter holds before it forgets its smallest half
MAX_STAFF_ROWS = 500
RESULT_VERSION = 1
DAY_KEYS = ("events", "failures", "night", "weekend")
ORIGINS = ("japan", "outside", "unknown", "no_address")
TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_PDF_FONTS: str = Settings.model_fields["pdf_font_family"].default

AUTH_ACTION = re.compile(r"(?i)(auth|log_?[io]n|sign_?[io]n|password|mfa|totp)")
FAILED_ACTION = re.compile(r"(?i)(fail|denied|reject|invalid)")
# Actions that change who may do what or how a system is set up (CloudTrail, Azure, mamori).
ADMIN_ACTION = re.compile(
    r"(?i)(^(iam|sso|organizations|kms|sts):|microsoft\.authorization/|admin|role|polic"
    r"|permission|privilege|grant|setting|config|user\.(create|delete|invite|update|unlock)"
    r"|token\.(create|revoke)|password_?(reset|change))"
)


class AnalysisStatus(StrEnum):
    """Where an analysis stands."""

    REQUESTED = "requested"
    COMPLETED = "completed"


STATUS_LABELS: dict[str, str] = {
    AnalysisStatus.REQUESTED.value: N_("Requested"),
    AnalysisStatus.COMPLETED.value: N_("Completed"),
}


def request_analysis(
    session: Session, principal: Principal, starts_at: datetime, ends_at: datetime, now: datetime
) -> LedgerAnalysis:
    """Record a tenant administrator's request to analyse its own events in [start, end)."""
    if principal.tenant_id is None or not principal.can(Permission.REQUEST_ANALYSIS):
        raise ForbiddenError(N_("only a tenant administrator may request a log analysis"))
    start, end, now = _utc(starts_at, "starts_at"), _utc(ends_at, "ends_at"), as_utc(now)
    if start >= now:
        raise InputError(N_("the start of the range must be in the past"), field="starts_at")
    if end <= start:
        raise InputError(N_("the end of the range must come after its start"), field="ends_at")
    if end > now:
        raise InputError(N_("the end of the range may not be in the future"), field="ends_at")
    if end - start > MAX_RANGE:
        raise InputError(
            N_("a range may cover at most %(days)s days"),
            field="ends_at",
            params={"days": MAX_RANGE.days},
        )
    analysis = LedgerAnalysis(
        id=str(uuid.uuid4()),
        tenant_id=principal.tenant_id,
        requested_by=principal.label,
        starts_at=start,
        ends_at=end,
        status=AnalysisStatus.REQUESTED.value,
        created_at=now,
    )
    session.add(analysis)
    session.flush()
    return analysis


def _utc(moment: datetime, field: str) -> datetime:
    try:
        return as_utc(moment)
    except OverflowError as exc:  # year 1 or 9999 with an offset falls off the calendar
        raise InputError(N_("the date is out of range"), field=field) from exc


def analyses(session: Session, scope: TenantScope, limit: int = 100) -> list[LedgerAnalysis]:
    """The newest analyses visible in `scope`."""
    statement = scope.apply(select(LedgerAnalysis), LedgerAnalysis.tenant_id)
    ordered = statement.order_by(LedgerAnalysis.created_at.desc(), LedgerAnalysis.id)
    return list(session.scalars(ordered.limit(limit)))


def analysis_in(session: Session, scope: TenantScope, analysis_id: str) -> LedgerAnalysis:
    """One analysis visible in `scope`; another tenant's is reported as missing."""
    statement = select(LedgerAnalysis).where(LedgerAnalysis.id == analysis_id)
    found = session.scalars(scope.apply(statement, LedgerAnalysis.tenant_id)).first()
    if found is None:
        raise NotFoundError(N_("no such analysis"))
    return found


class TopCounter:
    """Counts per key in bounded memory.

    Past `cap` distinct keys the smaller half is forgotten, so the counts kept are exact
    or, once anything was forgotten (`pruned`), lower bounds; the top of the list, which
    is what the report shows, survives pruning.
    """

    def __init__(self, cap: int = MAX_KEYS) -> None:
        self.counts: dict[str, int] = {}
        self.cap = cap
        self.pruned = False

    def add(self, key: str) -> None:
        """Count one more `key`."""
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.counts) > self.cap:
            kept = heapq.nlargest(self.cap // 2, self.counts.items(), key=lambda kv: kv[1])
            self.counts = dict(kept)
            self.pruned = True

    def top(self, n: int) -> list[list[Any]]:
        """The `n` most frequent keys with their counts, ties by key."""
        best = heapq.nsmallest(n, self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [[key, count] for key, count in best]


def _reason(original: Mapping[str, Any]) -> str:
    """The reason a grant record carries, at the top level or in its details."""
    for place in (original, original.get("details")):
        if isinstance(place, Mapping) and isinstance(place.get("reason"), str):
            return str(place["reason"])[:500]
    return ""


class Tally:
    """The aggregates of one analysis, fed one entry at a time."""

    def __init__(self, zone: ZoneInfo, geo: CountryResolver) -> None:
        self.zone = zone
        self.geo = CachingResolver(geo)  # one per run: the cache is not shared between threads
        self.events = 0
        self.days: dict[str, Counter[str]] = {}  # at most 367 local days
        self.services = TopCounter()
        self.failure_actors, self.failure_addresses = TopCounter(), TopCounter()
        self.admin = TopCounter()
        self.countries: Counter[str] = Counter()
        self.origins: Counter[str] = Counter()
        self.staff: list[dict[str, str]] = []
        self.staff_total = 0

    def observe(self, entry: Entry) -> None:
        """Count `entry` in every section it belongs to."""
        local = entry.at.astimezone(self.zone)
        day = self.days.setdefault(local.date().isoformat(), Counter())
        self.events += 1
        day["events"] += 1
        day["night"] += local.hour >= 22 or local.hour < 6
        day["weekend"] += local.weekday() >= 5
        self.services.add(entry.service_id or "-")
        if AUTH_ACTION.search(entry.action) and (
            entry.outcome == Outcome.FAILURE or FAILED_ACTION.search(entry.action)
        ):
            day["failures"] += 1
            self.failure_actors.add(entry.actor or "-")
            self.failure_addresses.add(entry.source_address or "-")
        audit = entry.event_class == EventClass.AUDIT
        if audit or ADMIN_ACTION.search(entry.action):
            self.admin.add(entry.action or "-")
        self._origin(entry.source_address)
        if audit and entry.action.startswith("grant."):
            self._staff(entry)

    def _origin(self, address: str) -> None:
        if not address:
            self.origins["no_address"] += 1
            return
        country = self.geo.country(address)
        if country is None:
            self.origins["unknown"] += 1
        elif country == "JP":
            self.origins["japan"] += 1
        else:
            self.origins["outside"] += 1
            self.countries[country] += 1

    def _staff(self, entry: Entry) -> None:
        self.staff_total += 1
        if len(self.staff) < MAX_STAFF_ROWS:
            self.staff.append(
                {
                    "at": as_utc(entry.at).isoformat(),
                    "actor": entry.actor,
                    "action": entry.action,
                    "reason": _reason(entry.original),
                }
            )

    def result(self) -> dict[str, Any]:
        """The aggregates as stored: counts and top lists only."""
        days = [{"day": d, **{k: c[k] for k in DAY_KEYS}} for d, c in sorted(self.days.items())]
        counters = (self.services, self.failure_actors, self.failure_addresses, self.admin)
        return {
            "events": self.events,
            "approximate": any(c.pruned for c in counters),
            "days": days,
            "services": self.services.top(TOP_LONG),
            "failures": {
                "total": sum(d["failures"] for d in days),
                "actors": self.failure_actors.top(TOP),
                "addresses": self.failure_addresses.top(TOP),
            },
            "admin_actions": {
                "total": sum(self.admin.counts.values()),
                "actions": self.admin.top(TOP_LONG),
            },
            "origins": {
                **{k: self.origins[k] for k in ORIGINS},
                "countries": [[k, n] for k, n in sorted(self.countries.items(), key=_by_count)],
            },
            "unusual": {k: sum(d[k] for d in days) for k in ("night", "weekend")},
            "staff_access": {"total": self.staff_total, "rows": self.staff},
        }


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def head_checkpoint(session: Session) -> tuple[Checkpoint, str] | None:
    """The ledger's signed head (checkpoint and note), or None before the first append."""
    state = session.get(LedgerState, 1)
    if state is None or not state.note:
        return None
    return Checkpoint.parse(split_note(state.note)[0]), state.note


def _events(session: Session, analysis: LedgerAnalysis, size: int) -> Iterator[Entry]:
    """The tenant's analysed events in the range, inside the first `size` chunks."""
    start, end = as_utc(analysis.starts_at), as_utc(analysis.ends_at)
    selection = Selection(TenantScope.only(analysis.tenant_id), CLASSES, start, end + LATE_ARRIVAL)
    for entry in entries(session, selection):
        # The tenant test repeats the scope's: a result must never mix in another tenant.
        inside = entry.chunk_index < size and entry.tenant_id == analysis.tenant_id
        if inside and start <= entry.at < end:
            yield entry


def run_analysis(
    session: Session, analysis_id: str, geo: CountryResolver, timezone: str, now: datetime
) -> LedgerAnalysis:
    """Compute the analysis `analysis_id` and bind it to the ledger's current signed head."""
    analysis = session.get(LedgerAnalysis, analysis_id)
    if analysis is None:
        raise NotFoundError(N_("no such analysis"))
    head = head_checkpoint(session)
    tally = Tally(ZoneInfo(timezone), geo)
    for entry in _events(session, analysis, head[0].size if head else 0):
        tally.observe(entry)
    tenant = IdentityRepository(session).tenant(
        analysis.tenant_id, TenantScope.only(analysis.tenant_id)
    )
    name = tenant.name.as_dict() if tenant else {"ja": analysis.tenant_id, "en": analysis.tenant_id}
    analysis.result = {
        "version": RESULT_VERSION,
        "tenant": {"id": analysis.tenant_id, "name": name},
        "timezone": timezone,
        "checkpoint": {"size": head[0].size, "root": head[0].root.hex()} if head else None,
        **tally.result(),
    }
    analysis.checkpoint_size = head[0].size if head else None
    analysis.checkpoint_note = head[1] if head else None
    analysis.status = AnalysisStatus.COMPLETED.value
    analysis.completed_at = now
    session.flush()
    return analysis


# Rendering -----------------------------------------------------------------------------


def _completed(analysis: LedgerAnalysis) -> dict[str, Any]:
    if analysis.result is None or analysis.completed_at is None:
        raise ConflictError(N_("the analysis has not been computed yet"))
    return analysis.result


def _country(code: str, lang: Lang) -> str:
    name = Locale(lang).territories.get(code)
    return f"{name} ({code})" if name else code


def day_chart(days: Sequence[Mapping[str, Any]], start: date, end: date) -> Markup:
    """Events per day as an inline SVG bar chart, every day of the range drawn."""
    counts = {d["day"]: int(d["events"]) for d in days}
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    peak = max(counts.values(), default=0) or 1
    width, height, top = 720, 160, 12
    step = width / max(len(span), 1)
    bars = []
    for i, day in enumerate(span):
        value = counts.get(day.isoformat(), 0)
        tall = (height - top) * value / peak
        bars.append(
            f'<rect x="{i * step:.2f}" y="{height - tall:.2f}" width="{max(step - 1, 0.5):.2f}" '
            f'height="{tall:.2f}" fill="#1d3f6e"><title>{day.isoformat()}: {value}</title></rect>'
        )
    # Presentation attributes only: the report's CSP admits no inline style attributes.
    return Markup(  # noqa: S704 - numbers and ISO dates only, nothing from input
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height + 1}" '
        f'class="chart" aria-hidden="true"><line x1="0" y1="{height + 0.5}" x2="{width}" '
        f'y2="{height + 0.5}" stroke="#9aa5b1"/>{"".join(bars)}</svg>'
    )


def _view(analysis: LedgerAnalysis, lang: Lang) -> dict[str, Any]:
    result = _completed(analysis)
    zone = result["timezone"]
    start, end = as_utc(analysis.starts_at), as_utc(analysis.ends_at)
    first_day = to_local(start, zone).date()
    last_day = to_local(end - timedelta(microseconds=1), zone).date()
    return {
        "a": analysis,
        "r": result,
        "tenant_name": result["tenant"]["name"].get(lang, result["tenant"]["id"]),
        "starts": format_local(start, zone, lang),
        "ends": format_local(end, zone, lang),
        "computed": format_local(as_utc(analysis.completed_at or end), zone, lang),
        "chart": day_chart(result["days"], first_day, last_day),
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "num": lambda value: f"{value:,}",
        "day": lambda text: format_day(date.fromisoformat(text), lang),
        "when": lambda text: format_local(datetime.fromisoformat(text), zone, lang),
        "country": lambda code: _country(code, lang),
    }


def _render(analysis: LedgerAnalysis, lang: Lang, font_family: Markup | None) -> str:
    template = jinja_env(TEMPLATES, lang).get_template("analysis.html.j2")
    return template.render(**_view(analysis, lang), font_family=font_family)


def analysis_html(analysis: LedgerAnalysis, lang: Lang) -> str:
    """The report as one standalone page: styles in its own `<style>`, no script."""
    return _render(analysis, lang, None)


def analysis_pdf(
    analysis: LedgerAnalysis, lang: Lang, font_family: str = DEFAULT_PDF_FONTS
) -> bytes:
    """The report as an A4 PDF in an installed Japanese font from `font_family`."""
    families = css_font_family(installed_families(font_family))
    return _write_pdf(_render(analysis, lang, families))


def _cell(value: object) -> object:
    """`value` safe in a spreadsheet: text that Excel would read as a formula is quoted."""
    if isinstance(value, str) and value != "-" and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _section(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    return [["section", *header], *[[name, *row] for row in rows]]


def _summary(analysis: LedgerAnalysis, result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    checkpoint = result["checkpoint"] or {"size": "", "root": ""}
    computed = as_utc(analysis.completed_at or analysis.ends_at)
    return [
        ("tenant", result["tenant"]["id"]),
        ("starts_at", as_utc(analysis.starts_at).isoformat()),
        ("ends_at", as_utc(analysis.ends_at).isoformat()),
        ("timezone", result["timezone"]),
        ("computed_at", computed.isoformat()),
        ("checkpoint_size", checkpoint["size"]),
        ("checkpoint_root_sha256", checkpoint["root"]),
        ("events", result["events"]),
        ("approximate", str(result["approximate"]).lower()),
    ]


def _csv_tables(analysis: LedgerAnalysis, result: Mapping[str, Any]) -> list[list[list[Any]]]:
    days = [[d["day"], *(d[k] for k in DAY_KEYS)] for d in result["days"]]
    origins = result["origins"]
    staff = [
        [r[k] for k in ("at", "actor", "action", "reason")] for r in result["staff_access"]["rows"]
    ]
    return [
        _section("summary", ["item", "value"], _summary(analysis, result)),
        _section("per_day", ["day", *DAY_KEYS], days),
        _section("per_service", ["service", "events"], result["services"]),
        _section("failures_by_actor", ["actor", "failures"], result["failures"]["actors"]),
        _section("failures_by_address", ["address", "failures"], result["failures"]["addresses"]),
        _section("admin_actions", ["action", "events"], result["admin_actions"]["actions"]),
        _section(
            "origins",
            ["origin", "events"],
            [*[(key, origins[key]) for key in ORIGINS], *origins["countries"]],
        ),
        _section("staff_access", ["at", "actor", "action", "reason"], staff),
    ]


def analysis_csv(analysis: LedgerAnalysis) -> str:
    """The aggregates as CSV, one table per section, with a BOM so Excel reads UTF-8."""
    result = _completed(analysis)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, table in enumerate(_csv_tables(analysis, result)):
        if number:
            writer.writerow([])
        writer.writerows([[_cell(value) for value in row] for row in table])
    return "\ufeff" + out.getvalue()
