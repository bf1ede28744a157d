"""Evidence disclosure (commitment 20): events leave the ledger only on request, after review.

States: requested → reviewed → approved → ready → downloaded, or rejected from requested or
reviewed. A ready package not downloaded within `DOWNLOAD_DAYS` of its approval is expired:
reads compare times, so it is refused the moment the deadline passes, and `expire()` (a
job) erases its bytes later. A request still unreviewed after its review deadline
(`REVIEW_BUSINESS_DAYS` business days, Monday to Friday in the configured zone, public
holidays not counted) is flagged as overdue, never rejected on its own.

Who: a tenant administrator asks for their own tenant's events; a security officer records
a request made by an authority (naming it). Security officers review, choosing which parts
of every event to withhold; someone other than the reviewer approves. Only the requester
downloads, once; the package bytes are then erased. `reviewed_at` and `approved_at` record
when each step was decided, whatever the outcome: the state tells whether it was a refusal.

The range is on arrival time (when the ledger stored an event): that is the time the
proofs bind, while source clocks can be wrong or late. The package is a ZIP of the proof
bundle, a manifest, a ja/en README and the standalone verifier. The verifier is copied
from `mamori/_tools/` (for a packaged install that ships it) or the source checkout's
`tools/`; when neither exists the README says where to get it and the manifest omits it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

import mamori
from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc, to_local
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_, Lang, translate
from mamori.core.scope import Principal, TenantScope
from mamori.ledger.models import LedgerDisclosure
from mamori.ledger.notes import Checkpoint, split_note
from mamori.ledger.proofs import PARTS, build_bundle, bundle_bytes
from mamori.ledger.reading import Entry, Selection, chunks, entries
from mamori.ledger.records import EventClass, timestamp
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import SLUG
from mamori.tenants.service.context import Services

REQUESTED, REVIEWED, APPROVED, READY = "requested", "reviewed", "approved", "ready"
DOWNLOADED, REJECTED, EXPIRED = "downloaded", "rejected", "expired"
STATE_LABELS = {
    REQUESTED: N_("Waiting for review"),
    REVIEWED: N_("Reviewed, waiting for approval"),
    APPROVED: N_("Approved, package being prepared"),
    READY: N_("Ready to download"),
    DOWNLOADED: N_("Downloaded"),
    REJECTED: N_("Rejected"),
    EXPIRED: N_("Expired"),
}
PART_LABELS = {"subject": N_("Subject (actor, source address)"), "content": N_("Content")}
REVIEW_BUSINESS_DAYS = 10
DOWNLOAD_DAYS = 14
MAX_RANGE = timedelta(days=366)
MAX_EVENTS = 100_000
MIN_REASON = 10
LIST_LIMIT = 500
MAX_FILTER_VALUES = 20
PACKAGE_FORMAT = "mamori-disclosure/v1"
FILTER_NAMES = ("classes", "actions", "services")
FILTER_PATTERNS = {
    "actions": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"),
    "services": re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$"),
}
DISCLOSURE_ID = re.compile(r"^[0-9a-f-]{36}$")
TENANT_ID = re.compile(SLUG)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
VIEWERS = (Permission.REQUEST_DISCLOSURE, Permission.REVIEW_DISCLOSURE)
STAFF_VIEWERS = (*VIEWERS, Permission.APPROVE_DISCLOSURE)


@dataclass(frozen=True)
class Filters:
    """Which of the tenant's events in the range: empty tuples mean every value."""

    classes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Filters:
        """Checked filters from `{"classes": [...], "actions": [...], "services": [...]}`."""
        unknown = sorted(set(raw) - set(FILTER_NAMES))
        if unknown:
            raise InputError(N_("unknown field"), field=f"filters.{unknown[0]}")
        values = {name: _values(raw.get(name) or [], name) for name in FILTER_NAMES}
        known = {c.value for c in EventClass}
        for value in values["classes"]:
            if value not in known:
                raise InputError(
                    N_("must be one of: %(expected)s"),
                    field="filters.classes",
                    params={"expected": ", ".join(sorted(known))},
                )
        return cls(**values)

    def as_json(self) -> dict[str, list[str]]:
        """The stored form."""
        return {
            "classes": [*self.classes],
            "actions": [*self.actions],
            "services": [*self.services],
        }

    def matches(self, entry: Entry) -> bool:
        """Whether `entry` passes the action and service filters."""
        return (not self.actions or entry.action in self.actions) and (
            not self.services or entry.service_id in self.services
        )


def _values(raw: object, name: str) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
        raise InputError(N_("must be a list"), field=f"filters.{name}")
    if len(raw) > MAX_FILTER_VALUES:
        raise InputError(
            N_("At most %(max)s values."),
            field=f"filters.{name}",
            params={"max": MAX_FILTER_VALUES},
        )
    pattern = FILTER_PATTERNS.get(name)
    for value in raw:
        if pattern is not None and not pattern.match(value):
            raise InputError(
                N_("“%(value)s” is not a valid filter value."),
                field=f"filters.{name}",
                params={"value": value[:40]},
            )
    return tuple(sorted(set(raw)))


def _text(value: str | None, field: str, minimum: int, maximum: int) -> str:
    text = (value or "").strip()
    if CONTROL.search(text):
        raise InputError(N_("Control characters are not allowed."), field=field)
    if not minimum <= len(text) <= maximum:
        raise InputError(
            N_("Write between %(min)s and %(max)s characters."),
            field=field,
            params={"min": minimum, "max": maximum},
        )
    return text


def _range(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    try:
        start, end = as_utc(starts_at), as_utc(ends_at)
    except (OverflowError, ValueError) as exc:
        raise InputError(N_("The date is out of range."), field="starts_at") from exc
    if start.year < 1970 or end.year > 9000:
        raise InputError(N_("The date is out of range."), field="starts_at")
    if end <= start:
        raise InputError(N_("The end of the range must be after its start."), field="ends_at")
    if end - start > MAX_RANGE:
        raise InputError(
            N_("The range may cover at most %(days)s days."),
            field="ends_at",
            params={"days": MAX_RANGE.days},
        )
    return start, end


def review_deadline(created_at: datetime, zone: str) -> datetime:
    """`created_at` plus the review period in business days (weekends skipped)."""
    moment, left = to_local(created_at, zone), REVIEW_BUSINESS_DAYS
    while left:
        moment += timedelta(days=1)
        left -= moment.weekday() < 5
    return moment.astimezone(UTC)


def download_deadline(row: LedgerDisclosure) -> datetime | None:
    """When a ready package expires (counted from the approval)."""
    return as_utc(row.approved_at) + timedelta(days=DOWNLOAD_DAYS) if row.approved_at else None


def effective_state(row: LedgerDisclosure, now: datetime) -> str:
    """The state at `now`: a ready package past its download deadline is expired."""
    deadline = download_deadline(row)
    if row.state == READY and deadline is not None and deadline <= now:
        return EXPIRED
    return row.state


def is_overdue(row: LedgerDisclosure, now: datetime) -> bool:
    """Whether the request still waits for review after its deadline."""
    return row.state == REQUESTED and as_utc(row.review_due_at) < now


def can_view(principal: Principal) -> bool:
    """Whether the principal may see disclosure requests at all."""
    allowed = STAFF_VIEWERS if principal.is_staff else VIEWERS
    return any(principal.can(p) for p in allowed)


def _statement(principal: Principal) -> Select[LedgerDisclosure]:
    """Requests the principal may see: all (staff), or their tenant's own requests.

    Requests recorded for an authority are not shown to the tenant: the law may forbid
    telling the customer, so the provider informs it separately when allowed.
    """
    if not can_view(principal):
        raise ForbiddenError(N_("you may not see disclosure requests"))
    scope = (
        TenantScope.everything()
        if principal.is_staff
        else TenantScope.only(principal.tenant_id or "")
    )
    statement = scope.apply(select(LedgerDisclosure), LedgerDisclosure.tenant_id)
    if not principal.is_staff:
        statement = statement.where(LedgerDisclosure.authority.is_(None))
    return statement


def visible(
    services: Services, principal: Principal, disclosure_id: str, *, lock: bool = False
) -> LedgerDisclosure:
    """One request the principal may see, or NotFoundError; `lock` before changing it."""
    return _one(services, _statement(principal), disclosure_id, lock)


def _one(
    services: Services, statement: Select[LedgerDisclosure], disclosure_id: str, lock: bool
) -> LedgerDisclosure:
    if not DISCLOSURE_ID.match(disclosure_id):
        raise NotFoundError(N_("no such disclosure request"))  # nor worth asking the database
    statement = statement.where(LedgerDisclosure.id == disclosure_id)
    # Row lock on PostgreSQL (SQLite writers are serialised already): two concurrent
    # downloads or approvals must not both see the earlier state.
    row = services.session.scalar(statement.with_for_update() if lock else statement)
    if row is None:
        raise NotFoundError(N_("no such disclosure request"))
    return row


def disclosures_for(services: Services, principal: Principal) -> Sequence[LedgerDisclosure]:
    """The requests the principal may see, newest first."""
    statement = _statement(principal).order_by(LedgerDisclosure.created_at.desc()).limit(LIST_LIMIT)
    return list(services.session.scalars(statement))


def _expect(row: LedgerDisclosure, states: Collection[str], action: str, now: datetime) -> None:
    state = effective_state(row, now)
    if state not in states:
        raise ConflictError(
            N_("Cannot %(action)s a disclosure request that is %(state)s."),
            params={"action": action, "state": state},
        )


def _staff_with(principal: Principal, *permissions: Permission) -> None:
    if not principal.is_staff or not any(principal.can(p) for p in permissions):
        raise ForbiddenError(N_("you may not decide on disclosure requests"))


def _audit(
    services: Services, who: Principal | None, action: str, row: LedgerDisclosure, **details: Any
) -> None:
    services.audit(
        AuditRecord.by(who, f"disclosure.{action}", "disclosure", row.id, row.tenant_id, **details)
    )


def _too_many() -> InputError:
    return InputError(
        N_("More than %(max)s events match; narrow the range or the filters."),
        field="filters",
        params={"max": MAX_EVENTS},
    )


def matching_seqs(
    services: Services, tenant_id: str, start: datetime, end: datetime, filters: Filters
) -> list[int]:
    """Positions of the tenant's live events in [start, end) passing `filters`."""
    selection = Selection(
        scope=TenantScope.only(tenant_id),
        classes=frozenset(filters.classes) or None,
        start=start,
        end=end,
    )
    seqs: list[int] = []
    if not filters.actions and not filters.services:
        for chunk in chunks(services.session, selection):  # whole chunks: nothing to decode
            seqs.extend(range(chunk.first_seq, chunk.first_seq + chunk.size))
            if len(seqs) > MAX_EVENTS:
                raise _too_many()
        return seqs
    for entry in entries(services.session, selection):
        if filters.matches(entry):
            seqs.append(entry.seq)
            if len(seqs) > MAX_EVENTS:
                raise _too_many()
    return seqs


def _seqs_of(services: Services, row: LedgerDisclosure) -> list[int]:
    filters = Filters.parse(row.filters)
    seqs = matching_seqs(services, row.tenant_id, row.starts_at, row.ends_at, filters)
    if not seqs:
        raise InputError(
            N_("No events of this tenant match the range and filters."), field="filters"
        )
    return seqs


def _requester(
    services: Services, principal: Principal, tenant_id: str, authority: str | None
) -> str | None:
    """The authority's name for staff; checks the tenant is the requester's own otherwise."""
    if not principal.can(Permission.REQUEST_DISCLOSURE):
        raise ForbiddenError(N_("you may not request evidence disclosure"))
    if principal.is_staff:
        known = TENANT_ID.match(tenant_id)
        if not known or services.repository.tenant(tenant_id, TenantScope.everything()) is None:
            raise NotFoundError(N_("no such tenant"))
        return _text(authority, "authority", 2, 200)
    if tenant_id != principal.tenant_id:
        raise NotFoundError(N_("no such tenant"))
    if authority:
        raise InputError(
            N_("Only provider staff record requests made by an authority."), field="authority"
        )
    return None


def request(
    services: Services,
    principal: Principal,
    tenant_id: str,
    starts_at: datetime,
    ends_at: datetime,
    filters: Mapping[str, Any],
    reason: str,
    authority: str | None = None,
) -> LedgerDisclosure:
    """Ask for the tenant's events of a range (at most a year) matching `filters`."""
    named = _requester(services, principal, tenant_id, authority)
    start, end = _range(starts_at, ends_at)
    chosen = Filters.parse(filters)
    why = _text(reason, "reason", MIN_REASON, 1000)
    now = services.now()
    row = LedgerDisclosure(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        requester_id=principal.user_id,
        requester_label=principal.label[:254],
        authority=named,
        reason=why,
        starts_at=start,
        ends_at=end,
        filters=chosen.as_json(),
        state=REQUESTED,
        review_due_at=review_deadline(now, services.settings.timezone),
        redactions=[],
        created_at=now,
        note="",
    )
    _seqs_of(services, row)  # refuse an empty or oversized request now, not after review
    services.session.add(row)
    _audit(services, principal, "request", row, starts_at=timestamp(start), ends_at=timestamp(end))
    return row


def review(
    services: Services,
    principal: Principal,
    disclosure_id: str,
    redact: Collection[str],
    note: str = "",
) -> LedgerDisclosure:
    """Record the review: which parts of every event to withhold, and a remark."""
    row = visible(services, principal, disclosure_id, lock=True)
    _staff_with(principal, Permission.REVIEW_DISCLOSURE)
    _expect(row, {REQUESTED}, "review", services.now())
    unknown = sorted(set(redact) - set(PARTS))
    if unknown:
        raise InputError(
            N_("Only the subject and the content can be redacted, not %(parts)s."),
            field="redact",
            params={"parts": ", ".join(unknown)},
        )
    row.redactions = sorted(set(redact))
    row.note = _text(note, "note", 0, 1000)
    row.reviewer_id, row.reviewed_at, row.state = principal.user_id, services.now(), REVIEWED
    _audit(services, principal, "review", row, redactions=row.redactions)
    return row


def approve(services: Services, principal: Principal, disclosure_id: str) -> LedgerDisclosure:
    """The second person's approval: never the reviewer's own."""
    row = visible(services, principal, disclosure_id, lock=True)
    _staff_with(principal, Permission.APPROVE_DISCLOSURE)
    _expect(row, {REVIEWED}, "approve", services.now())
    if row.reviewer_id == principal.user_id:
        raise ForbiddenError(N_("a disclosure must be approved by someone other than its reviewer"))
    row.approver_id, row.approved_at, row.state = principal.user_id, services.now(), APPROVED
    _audit(services, principal, "approve", row)
    return row


def reject(
    services: Services, principal: Principal, disclosure_id: str, note: str
) -> LedgerDisclosure:
    """Refuse a request at review or at approval, giving the reason."""
    row = visible(services, principal, disclosure_id, lock=True)
    _staff_with(principal, Permission.REVIEW_DISCLOSURE, Permission.APPROVE_DISCLOSURE)
    now = services.now()
    _expect(row, {REQUESTED, REVIEWED}, "reject", now)
    why = _text(note, "note", MIN_REASON, 1000)
    if row.state == REQUESTED:
        row.reviewer_id, row.reviewed_at = principal.user_id, now
    else:
        row.approver_id, row.approved_at = principal.user_id, now
    stage = "review" if row.state == REQUESTED else "approval"
    row.note = f"{row.note}\n{why}".strip()[:1000]
    row.state = REJECTED
    _audit(services, principal, "reject", row, stage=stage)
    return row


def build_package(
    services: Services, ledger: LedgerService, disclosure_id: str
) -> LedgerDisclosure:
    """Build and store the approved request's package (the system's step; state ready)."""
    row = _one(services, select(LedgerDisclosure), disclosure_id, lock=True)
    now = services.now()
    _expect(row, {APPROVED}, "package", now)
    seqs = _seqs_of(services, row)
    hidden = dict.fromkeys(seqs, row.redactions) if row.redactions else {}
    bundle = build_bundle(services.session, ledger.vkey, seqs, redact=hidden)
    source = verifier_source()
    files = {
        "bundle.json": bundle_bytes(bundle),
        "README.txt": readme(row, ledger.vkey, len(seqs), source is not None),
    }
    if source is not None:
        files["mamori_verify.py"] = source
    manifest = _manifest(services, row, bundle, ledger.vkey, seqs, files, now)
    package = _zip({"manifest.json": manifest, **files}, as_utc(row.approved_at or now))
    row.package, row.package_sha256 = package, hashlib.sha256(package).hexdigest()
    row.state = READY
    _audit(services, None, "package", row, events=len(seqs), sha256=row.package_sha256)
    return row


def download(services: Services, principal: Principal, disclosure_id: str) -> bytes:
    """The package, once, for its requester; its bytes are erased from the database."""
    row = visible(services, principal, disclosure_id, lock=True)
    if row.requester_id != principal.user_id:
        raise ForbiddenError(N_("only the person who made the request may download it"))
    _expect(row, {READY}, "download", services.now())
    package = bytes(row.package or b"")
    row.package, row.state, row.downloaded_at = None, DOWNLOADED, services.now()
    _audit(services, principal, "download", row, sha256=row.package_sha256)
    return package


def expire(services: Services) -> int:
    """Erase the packages past their download deadline (a job); returns how many."""
    now, count = services.now(), 0
    ready = select(LedgerDisclosure).where(LedgerDisclosure.state == READY)
    for row in services.session.scalars(ready):
        if effective_state(row, now) == EXPIRED:
            row.package, row.state = None, EXPIRED
            _audit(services, None, "expire", row)
            count += 1
    return count


def _person(services: Services, user_id: str | None) -> dict[str, str] | None:
    """A person as the recipient sees them: id and display name (as on the transparency
    page, never an e-mail address)."""
    if user_id is None:
        return None
    user = services.repository.user_by_id_unscoped(user_id)
    return {"id": user_id, "name": user.display_name if user else ""}


def _manifest(
    services: Services,
    row: LedgerDisclosure,
    bundle: Mapping[str, Any],
    vkey: str,
    seqs: Sequence[int],
    files: Mapping[str, bytes],
    now: datetime,
) -> bytes:
    checkpoint = Checkpoint.parse(split_note(bundle["checkpoint"])[0])
    document = {
        "format": PACKAGE_FORMAT,
        "disclosure": row.id,
        "tenant": row.tenant_id,
        "requested_by": _person(services, row.requester_id),
        "authority": row.authority,
        "reason": row.reason,
        "range": {"starts_at": timestamp(row.starts_at), "ends_at": timestamp(row.ends_at)},
        "range_basis": "arrival",
        "filters": row.filters,
        "redactions": row.redactions,
        "reviewer": _person(services, row.reviewer_id),
        "approver": _person(services, row.approver_id),
        "requested_at": timestamp(row.created_at),
        "reviewed_at": timestamp(row.reviewed_at),
        "approved_at": timestamp(row.approved_at),
        "packaged_at": timestamp(now),
        "events": {"count": len(seqs), "first_seq": seqs[0], "last_seq": seqs[-1]},
        "vkey": vkey,
        "checkpoint": {"size": checkpoint.size, "note": bundle["checkpoint"]},
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _zip(files: Mapping[str, bytes], moment: datetime) -> bytes:
    """A ZIP of `files` with fixed member times, so the same inputs give the same bytes."""
    buffer = io.BytesIO()
    stamp = moment.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def verifier_source() -> bytes | None:
    """The standalone verifier shipped with this install or checkout, if there is one."""
    here = Path(mamori.__file__).resolve().parent
    for candidate in (
        here / "_tools" / "mamori_verify.py",
        here.parents[1] / "tools" / "mamori_verify.py",
    ):
        if candidate.is_file():
            return candidate.read_bytes()
    return None


README_LINES = (
    N_("Evidence disclosure %(id)s for tenant %(tenant)s"),
    N_("%(count)s events stored by the ledger from %(starts)s to %(ends)s (UTC, arrival time)."),
    N_(
        "Withheld from every event: %(redactions)s. A withheld part is shown only as a salted "
        "digest, and the proof still holds."
    ),
    "",
    N_("bundle.json: the events with their proofs against a checkpoint signed by the ledger."),
    N_(
        "manifest.json: what was requested, reviewed and approved, by whom and when, and the "
        "SHA-256 of every other file."
    ),
    "",
    N_("How to verify:"),
    N_(
        "1. Get the ledger's verifier key through a channel you trust (the provider's whitepaper "
        "or website) and check that it is: %(vkey)s"
    ),
    N_("2. Install Python 3.11 or later and the cryptography package (pip install cryptography)."),
    N_("3. Run: python mamori_verify.py bundle bundle.json --vkey '<the key from step 1>'"),
    N_(
        "Exit status 0 means every event is in the ledger exactly as shown; 1 means something "
        "did not verify, and each failure is printed."
    ),
    N_('4. Compare the SHA-256 of each file (sha256sum) with the "files" entry of manifest.json.'),
)
VERIFIER_INCLUDED = N_(
    "mamori_verify.py: the standalone verifier, one short Python file; read it before you run it."
)
VERIFIER_MISSING = N_(
    "The verifier is not included: take tools/mamori_verify.py from the mamori source "
    "repository (the provider's version) and read it before you run it."
)
NOTHING = N_("nothing")
LANGUAGE_TITLES: tuple[tuple[Lang, str], ...] = (("ja", "日本語"), ("en", "English"))


def readme(row: LedgerDisclosure, vkey: str, count: int, with_verifier: bool) -> bytes:
    """The README, in Japanese then English."""
    lines = [*README_LINES]
    lines.insert(6, VERIFIER_INCLUDED if with_verifier else VERIFIER_MISSING)
    blocks = []
    for lang, title in LANGUAGE_TITLES:
        params = {
            "id": row.id,
            "tenant": row.tenant_id,
            "count": count,
            "starts": timestamp(row.starts_at),
            "ends": timestamp(row.ends_at),
            "redactions": ", ".join(translate(lang, PART_LABELS[p]) for p in row.redactions)
            or translate(lang, NOTHING),
            "vkey": vkey,
        }
        body = [translate(lang, line, params) if line else "" for line in lines]
        blocks.append("\n".join([f"== {title} ==", "", *body]))
    return ("\n\n".join(blocks) + "\n").encode("utf-8")
