"""Which service and which tenant (or "shared") each cloud resource belongs to.

Rules come from a YAML file (`MAMORI_POSTURE_ATTRIBUTION_FILE`); the first rule that
matches a resource decides. Tags `mamori:service` and `mamori:tenant` on a resource
decide before any rule. A resource no rule places is unattributed, itself a finding.
"""

from __future__ import annotations

from dataclasses import dataclass

SHARED = "shared"  # the tenant of resources serving every tenant
SERVICE_TAG = "mamori:service"
TENANT_TAG = "mamori:tenant"


@dataclass(frozen=True)
class Attribution:
    """Where a resource belongs; None means no rule or tag said."""

    service: str | None
    tenant: str | None  # a tenant id, SHARED, or None
    rule: str = ""  # what decided: "tag", "rule 3", ""

    @property
    def complete(self) -> bool:
        """True when both the service and the tenant are known."""
        return self.service is not None and self.tenant is not None


UNATTRIBUTED = Attribution(None, None)
