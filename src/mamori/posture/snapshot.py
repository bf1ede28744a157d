"""A snapshot of the provider's clouds: normalised resources, raw responses, coverage.

A snapshot is what a collection produced, complete in itself: checks read only it. Every
resource names the raw API responses it was built from by their SHA-256, so each result,
a pass included, can point at what it was decided on. The coverage record says which
calls succeeded and which failed and why; a check whose data is missing answers
"unknown" from it, never "pass".

Files are gzip-compressed JSON lines (`SNAPSHOT_FORMAT` in the first line), written and
read as a stream so a snapshot of any size needs little memory.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from sys import intern
from typing import IO, Any

import orjson

from mamori.core.clock import as_utc
from mamori.core.memory import collector_paused

SNAPSHOT_FORMAT = "mamori-posture-snapshot/1"
UNKNOWN_KEY = "$unknown"  # a property value that could not be read: {"$unknown": "why"}
GLOBAL_REGION = "global"  # resources of global services (IAM, CloudFront, S3's bucket list)


class SnapshotFileError(ValueError):
    """A snapshot file that cannot be read; names the file and line."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}, line {line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def json_safe(value: Any) -> Any:
    """`value` with SDK types (datetimes, bytes, decimals, tuples) made plain JSON."""
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def canonical(value: Any) -> bytes:
    """The canonical bytes of a JSON value: sorted keys, no spaces, UTF-8."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def digest_of(value: Any) -> str:
    """SHA-256 (hex) of the canonical form of `value`."""
    return hashlib.sha256(canonical(value)).hexdigest()


def unknown(reason: str) -> dict[str, str]:
    """The stored stand-in for a property that could not be read, saying why."""
    return {UNKNOWN_KEY: reason}


def is_unknown(value: Any) -> bool:
    """True when `value` stands for a property that could not be read.

    Properties are plain JSON (see `json_safe`), so the stand-in is always a dict.
    """
    return isinstance(value, dict) and UNKNOWN_KEY in value


@dataclass(frozen=True)
class RawResponse:
    """One API answer exactly as the SDK returned it (made JSON-safe), and its digest."""

    digest: str
    provider: str
    account: str
    region: str
    service: str
    operation: str
    body: Any

    @classmethod
    def of(
        cls, provider: str, account: str, region: str, service: str, operation: str, body: Any
    ) -> RawResponse:
        """A raw response whose digest covers where it came from and what it said."""
        return cls.plain(provider, account, region, service, operation, json_safe(body))

    @classmethod
    def plain(
        cls, provider: str, account: str, region: str, service: str, operation: str, body: Any
    ) -> RawResponse:
        """Like `of`, for a body that is plain JSON already (read from a file)."""
        where = {
            "provider": provider,
            "account": account,
            "region": region,
            "service": service,
            "operation": operation,
            "body": body,
        }
        return cls(digest_of(where), provider, account, region, service, operation, body)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the digest is recomputed on load)."""
        return {
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "operation": self.operation,
            "body": self.body,
        }


@dataclass(slots=True)
class Resource:
    """One normalised resource; `properties` follow its type's entry in `schema`.

    Treat it as read-only once made. It is not frozen only because a frozen dataclass
    takes four times as long to make, and a snapshot may hold 100,000 of them.
    """

    provider: str  # "aws" or "azure"
    account: str  # AWS account id or Azure subscription id
    region: str  # a region name, or GLOBAL_REGION
    type: str  # e.g. "aws.s3.bucket"; see schema.py
    id: str  # the ARN or Azure resource id
    name: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    raw: tuple[str, ...] = ()  # digests of the raw responses it was built from
    # unique within a snapshot: provider and id
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = f"{self.provider}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "type": self.type,
            "id": self.id,
            "name": self.name,
            "tags": dict(self.tags),
            "properties": json_safe(self.properties),
            "raw": list(self.raw),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resource:
        """The resource stored as `data` (see `to_json`).

        Strings that repeat across resources (provider, account, region, type, tag keys
        and values) are interned, so 100,000 resources share them instead of each
        holding its own copies.
        """
        return cls(
            intern(str(data["provider"])),
            intern(str(data["account"])),
            intern(str(data["region"])),
            intern(str(data["type"])),
            str(data["id"]),
            str(data.get("name", "")),
            {intern(str(k)): intern(str(v)) for k, v in dict(data.get("tags") or {}).items()},
            dict(data.get("properties") or {}),
            tuple(str(d) for d in data.get("raw") or ()),
        )


@dataclass(frozen=True)
class CoverageEntry:
    """One API call of a collection: where, what, and whether it worked.

    `resource` names the resource a per-resource call was about ("" for listings).
    """

    provider: str
    account: str
    region: str
    service: str
    operation: str
    ok: bool
    error_code: str = ""
    error_message: str = ""
    resource: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "service": self.service,
            "operation": self.operation,
            "ok": self.ok,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "resource": self.resource,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CoverageEntry:
        """The entry stored as `data`."""
        return cls(
            provider=str(data["provider"]),
            account=str(data["account"]),
            region=str(data["region"]),
            service=str(data["service"]),
            operation=str(data["operation"]),
            ok=bool(data["ok"]),
            error_code=str(data.get("error_code", "")),
            error_message=str(data.get("error_message", "")),
            resource=str(data.get("resource", "")),
        )


@dataclass
class Snapshot:
    """Everything one collection produced."""

    collected_at: datetime
    resources: list[Resource] = field(default_factory=list)
    raw: dict[str, RawResponse] = field(default_factory=dict)
    coverage: list[CoverageEntry] = field(default_factory=list)
    # provider -> account -> regions enumerated (all of them, not only the allowed ones)
    scope: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _by_type: dict[str, list[Resource]] | None = field(default=None, repr=False, compare=False)
    _by_key: dict[str, Resource] | None = field(default=None, repr=False, compare=False)
    _failed: dict[tuple[str, str], list[CoverageEntry]] | None = field(
        default=None, repr=False, compare=False
    )

    def add_raw(self, response: RawResponse) -> str:
        """Keep `response` (once) and return its digest."""
        self.raw.setdefault(response.digest, response)
        return response.digest

    def add(self, resource: Resource) -> None:
        """Add a resource (indexes are rebuilt on the next read)."""
        self.resources.append(resource)
        self._by_type = self._by_key = None

    def of_type(self, *types: str) -> list[Resource]:
        """Resources of the given types, in collection order within each type."""
        if self._by_type is None:
            index: dict[str, list[Resource]] = {}
            for resource in self.resources:
                index.setdefault(resource.type, []).append(resource)
            self._by_type = index
        found: list[Resource] = []
        for kind in types:
            found += self._by_type.get(kind, [])
        return found

    def get(self, key: str) -> Resource | None:
        """The resource with `key` (`provider:id`)."""
        if self._by_key is None:
            self._by_key = {resource.key: resource for resource in self.resources}
        return self._by_key.get(key)

    def failures(self, provider: str, service: str | None = None) -> list[CoverageEntry]:
        """Failed calls of `provider` (and `service`), listings and per-resource alike."""
        return [
            entry
            for entry in self.coverage
            if not entry.ok
            and entry.provider == provider
            and (service is None or entry.service == service)
        ]

    def failed_listings(self, provider: str, service: str) -> list[CoverageEntry]:
        """Failed listing calls (not about one resource) of `provider`'s `service`.

        Indexed on first use: checks ask this once per resource. Coverage entries added
        after that are not seen, so collectors finish before checks run.
        """
        if self._failed is None:
            index: dict[tuple[str, str], list[CoverageEntry]] = {}
            for entry in self.coverage:
                if not entry.ok and not entry.resource:
                    index.setdefault((entry.provider, entry.service), []).append(entry)
            self._failed = index
        return self._failed.get((provider, service), [])

    def digest(self) -> str:
        """SHA-256 over the snapshot's content, independent of how it is stored."""
        sha = hashlib.sha256()
        for line in _lines(self):
            sha.update(canonical(line))
            sha.update(b"\n")
        return sha.hexdigest()


def _lines(snapshot: Snapshot) -> Iterator[dict[str, Any]]:
    yield {
        "format": SNAPSHOT_FORMAT,
        "collected_at": json_safe(snapshot.collected_at),
        "scope": snapshot.scope,
    }
    for digest in sorted(snapshot.raw):
        yield {"kind": "raw", **snapshot.raw[digest].to_json()}
    for resource in sorted(snapshot.resources, key=lambda r: (r.type, r.key)):
        yield {"kind": "resource", **resource.to_json()}
    for entry in snapshot.coverage:
        yield {"kind": "coverage", **entry.to_json()}


def write_snapshot(snapshot: Snapshot, target: Path | IO[bytes]) -> None:
    """Write `snapshot` as gzip-compressed JSON lines to a path or a binary stream."""
    if isinstance(target, Path):
        with target.open("wb") as handle:
            write_snapshot(snapshot, handle)
        return
    with gzip.GzipFile(fileobj=target, mode="wb", mtime=0) as stream:
        for line in _lines(snapshot):
            stream.write(canonical(line) + b"\n")


def snapshot_bytes(snapshot: Snapshot) -> bytes:
    """The file form of `snapshot` in memory."""
    import io

    buffer = io.BytesIO()
    write_snapshot(snapshot, buffer)
    return buffer.getvalue()


def read_snapshot(source: Path | IO[bytes], name: str = "") -> Snapshot:
    """Read a snapshot file; every raw response's digest is recomputed and checked.

    Raises SnapshotFileError naming the line for anything malformed.
    """
    if isinstance(source, Path):
        with source.open("rb") as handle:
            return read_snapshot(handle, str(source))
    label = name or "snapshot"
    snapshot: Snapshot | None = None
    try:
        with collector_paused(), gzip.GzipFile(fileobj=source, mode="rb") as stream:
            for number, line in enumerate(_text_lines(stream), start=1):
                snapshot = _read_line(snapshot, line, label, number)
    except (OSError, EOFError) as exc:
        raise SnapshotFileError(label, 0, f"not a gzip file ({exc})") from exc
    if snapshot is None:
        raise SnapshotFileError(label, 1, "the file is empty")
    return snapshot


READ_BLOCK = 1 << 20  # bytes of decompressed text read at a time


def _text_lines(stream: gzip.GzipFile) -> Iterator[bytes]:
    """The lines of `stream`, read a block at a time (far fewer calls than `readline`)."""
    rest = b""
    while block := stream.read(READ_BLOCK):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _read_line(snapshot: Snapshot | None, line: bytes, label: str, number: int) -> Snapshot:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SnapshotFileError(label, number, f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SnapshotFileError(label, number, "expected a JSON object")
    if snapshot is None:
        if data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotFileError(label, number, f"not a {SNAPSHOT_FORMAT} file")
        try:
            collected = datetime.fromisoformat(str(data["collected_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError) as exc:
            raise SnapshotFileError(label, number, "collected_at is missing or invalid") from exc
        return Snapshot(collected_at=as_utc(collected), scope=dict(data.get("scope") or {}))
    try:
        _add_line(snapshot, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotFileError(label, number, f"bad {data.get('kind')!r} line: {exc}") from exc
    return snapshot


def _add_line(snapshot: Snapshot, data: dict[str, Any]) -> None:
    kind = data.pop("kind", None)
    if kind == "raw":
        response = RawResponse.plain(
            str(data["provider"]),
            str(data["account"]),
            str(data["region"]),
            str(data["service"]),
            str(data["operation"]),
            data["body"],
        )
        snapshot.add_raw(response)
    elif kind == "resource":
        resource = Resource.from_json(data)
        missing = [d for d in resource.raw if d not in snapshot.raw]
        if missing:
            raise ValueError(f"resource {resource.id} cites unknown raw response {missing[0]}")
        snapshot.add(resource)
    elif kind == "coverage":
        snapshot.coverage.append(CoverageEntry.from_json(data))
    else:
        raise ValueError(f"unknown kind {kind!r}")


@dataclass(frozen=True)
class Change:
    """A resource present in both snapshots whose region, tags or properties differ."""

    key: str
    type: str
    fields: tuple[str, ...]  # "region", "tags", "properties.<name>"


@dataclass(frozen=True)
class SnapshotDiff:
    """What changed from one snapshot to another."""

    added: tuple[Resource, ...]
    removed: tuple[Resource, ...]
    changed: tuple[Change, ...]
    coverage_lost: tuple[CoverageEntry, ...]  # calls that worked before and fail now
    coverage_regained: tuple[CoverageEntry, ...]

    @property
    def empty(self) -> bool:
        """True when nothing differs."""
        return not (
            self.added
            or self.removed
            or self.changed
            or self.coverage_lost
            or self.coverage_regained
        )


def diff(before: Snapshot, after: Snapshot) -> SnapshotDiff:
    """Resources added, removed and changed, and calls that started or stopped failing."""
    old = {resource.key: resource for resource in before.resources}
    new = {resource.key: resource for resource in after.resources}
    changed = []
    for key in sorted(old.keys() & new.keys()):
        fields = _changed_fields(old[key], new[key])
        if fields:
            changed.append(Change(key, new[key].type, fields))
    return SnapshotDiff(
        added=tuple(new[key] for key in sorted(new.keys() - old.keys())),
        removed=tuple(old[key] for key in sorted(old.keys() - new.keys())),
        changed=tuple(changed),
        coverage_lost=_failing_now(before.coverage, after.coverage),
        coverage_regained=_failing_now(after.coverage, before.coverage),
    )


def _changed_fields(old: Resource, new: Resource) -> tuple[str, ...]:
    fields = []
    if old.region != new.region:
        fields.append("region")
    if dict(old.tags) != dict(new.tags):
        fields.append("tags")
    before, after = json_safe(old.properties), json_safe(new.properties)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            fields.append(f"properties.{name}")
    return tuple(fields)


def _call(entry: CoverageEntry) -> tuple[str, ...]:
    return (
        entry.provider,
        entry.account,
        entry.region,
        entry.service,
        entry.operation,
        entry.resource,
    )


def _failing_now(
    before: Iterable[CoverageEntry], after: Iterable[CoverageEntry]
) -> tuple[CoverageEntry, ...]:
    worked = {_call(entry) for entry in before if entry.ok}
    return tuple(entry for entry in after if not entry.ok and _call(entry) in worked)
