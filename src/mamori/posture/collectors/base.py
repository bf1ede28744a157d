"""The collector interface and the builder collectors fill a snapshot through.

A collector records every API call it makes: the raw answer (hashed, kept once) for a
success, a coverage entry naming the call, and the error code and message for a failure.
Collectors run calls in threads, so the builder is thread-safe.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from mamori.core.clock import utcnow
from mamori.posture.snapshot import CoverageEntry, RawResponse, Resource, Snapshot, unknown


@dataclass(frozen=True)
class Failure:
    """A failed call: the cloud's error code and message."""

    code: str
    message: str

    def unknown(self) -> dict[str, str]:
        """The stand-in for a property this failure left unread."""
        return unknown(f"{self.code}: {self.message}")


MAX_ERROR_MESSAGE = 500


class SnapshotBuilder:
    """Collects resources, raw responses and coverage from many threads into a snapshot."""

    def __init__(self, collected_at: datetime | None = None) -> None:
        self.snapshot = Snapshot(collected_at=collected_at or utcnow())
        self._lock = threading.Lock()

    def answered(
        self,
        provider: str,
        account: str,
        region: str,
        service: str,
        operation: str,
        body: object,
        resource: str = "",
    ) -> str:
        """Record a successful call and its answer; returns the answer's digest."""
        response = RawResponse.of(provider, account, region, service, operation, body)
        entry = CoverageEntry(
            provider, account, region, service, operation, True, resource=resource
        )
        with self._lock:
            self.snapshot.coverage.append(entry)
            return self.snapshot.add_raw(response)

    def failed(
        self,
        provider: str,
        account: str,
        region: str,
        service: str,
        operation: str,
        code: str,
        message: str,
        resource: str = "",
    ) -> None:
        """Record a failed call with the error the cloud gave."""
        entry = CoverageEntry(
            provider,
            account,
            region,
            service,
            operation,
            False,
            error_code=code,
            error_message=message[:MAX_ERROR_MESSAGE],
            resource=resource,
        )
        with self._lock:
            self.snapshot.coverage.append(entry)

    def add(self, resource: Resource) -> None:
        """Add a normalised resource."""
        with self._lock:
            self.snapshot.add(resource)

    def scope(self, provider: str, account: str, regions: Iterable[str]) -> None:
        """Record which regions of `account` were enumerated."""
        with self._lock:
            self.snapshot.scope.setdefault(provider, {})[account] = sorted(set(regions))


class Collector(ABC):
    """Reads one cloud provider's configuration into a snapshot."""

    provider: str

    @abstractmethod
    def collect(self, builder: SnapshotBuilder) -> None:
        """Add every resource, raw response and coverage entry to `builder`."""


def collect(collectors: Iterable[Collector], clock: Callable[[], datetime] = utcnow) -> Snapshot:
    """One snapshot from several collectors, run one after another."""
    builder = SnapshotBuilder(clock())
    for collector in collectors:
        collector.collect(builder)
    return builder.snapshot
