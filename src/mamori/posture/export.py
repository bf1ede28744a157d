"""Findings as CSV (for people and spreadsheets) and OCSF JSON (for SIEMs and data lakes).

OCSF: each finding is a Compliance Finding event (class 2003 in category 2, Findings),
with the check as the control, the commitments as requirements and the resource and
cloud account it concerns; times are milliseconds since the epoch, as OCSF wants.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mamori import __version__
from mamori.commitments.registry import CheckRegistry
from mamori.core.clock import as_utc, format_local
from mamori.core.i18n import Lang, translate
from mamori.posture.models import PostureFinding

OCSF_VERSION = "1.1.0"
OCSF_CLASS_UID = 2003  # Compliance Finding
OCSF_CATEGORY_UID = 2  # Findings
OCSF_ACTIVITY_CREATE, OCSF_ACTIVITY_UPDATE, OCSF_ACTIVITY_CLOSE = 1, 2, 3
OCSF_SEVERITY = {"low": 2, "medium": 3, "high": 4, "critical": 5}
OCSF_COMPLIANCE_STATUS = {"pass": 1, "unknown": 0, "fail": 3}  # Pass, Unknown, Fail
OCSF_FINDING_STATUS_NEW, OCSF_FINDING_STATUS_RESOLVED = 1, 4
STANDARD = "ISO/IEC 27017"

CSV_COLUMNS = (
    "check_id",
    "title",
    "status",
    "severity",
    "commitments",
    "provider",
    "account",
    "region",
    "resource_type",
    "resource_id",
    "tenant",
    "service",
    "message",
    "first_seen",
    "last_seen",
    "resolved",
    "raw_responses",
)


def _message(lang: Lang, finding: PostureFinding) -> str:
    return translate(lang, finding.message, finding.message_params or {})


def _title(registry: CheckRegistry, check_id: str, lang: Lang) -> str:
    definition = registry.get(check_id)
    return definition.title.get(lang) if definition else check_id


def findings_csv(
    findings: Iterable[PostureFinding], registry: CheckRegistry, lang: Lang, zone: str
) -> str:
    """The findings as CSV text with a header row, times in `zone`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for finding in findings:
        writer.writerow(
            [
                finding.check_id,
                _title(registry, finding.check_id, lang),
                finding.status,
                finding.severity,
                " ".join(finding.commitments or []),
                finding.provider,
                finding.account,
                finding.region,
                finding.resource_type,
                finding.resource_id,
                finding.tenant_id or finding.placement,
                finding.service_id or "",
                _message(lang, finding),
                format_local(finding.first_seen_at, zone, lang),
                format_local(finding.last_seen_at, zone, lang),
                format_local(finding.resolved_at, zone, lang) if finding.resolved_at else "",
                " ".join(finding.raw or []),
            ]
        )
    return buffer.getvalue()


def _millis(moment: datetime) -> int:
    return int(as_utc(moment).timestamp() * 1000)


def ocsf_event(finding: PostureFinding, registry: CheckRegistry, lang: Lang) -> dict[str, Any]:
    """One finding as an OCSF Compliance Finding event."""
    resolved = finding.resolved_at is not None
    activity = OCSF_ACTIVITY_CLOSE if resolved else OCSF_ACTIVITY_CREATE
    time = finding.resolved_at if finding.resolved_at is not None else finding.last_seen_at
    labels: Mapping[str, str] = {
        "tenant": finding.tenant_id or finding.placement,
        "service": finding.service_id or "",
    }
    return {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity,
        "type_uid": OCSF_CLASS_UID * 100 + activity,
        "time": _millis(time),
        "severity_id": OCSF_SEVERITY.get(finding.severity, 0),
        "severity": finding.severity.capitalize(),
        "status_id": OCSF_FINDING_STATUS_RESOLVED if resolved else OCSF_FINDING_STATUS_NEW,
        "message": _message(lang, finding),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "mamori", "vendor_name": "mamori", "version": __version__},
            "uid": f"mamori-posture-{finding.id}",
        },
        "finding_info": {
            "uid": f"{finding.check_id}:{finding.subject}",
            "title": _title(registry, finding.check_id, lang),
            "first_seen_time": _millis(finding.first_seen_at),
            "last_seen_time": _millis(finding.last_seen_at),
        },
        "compliance": {
            "standards": [STANDARD],
            "control": finding.check_id,
            "requirements": list(finding.commitments or []),
            "status_id": OCSF_COMPLIANCE_STATUS.get(finding.status, 0),
            "status": finding.status.capitalize(),
        },
        "cloud": {
            "provider": finding.provider.upper() if finding.provider == "aws" else "Azure",
            "account": {"uid": finding.account},
            "region": finding.region,
        },
        "resources": [
            {
                "uid": finding.resource_id or finding.subject,
                "type": finding.resource_type,
                "region": finding.region,
                "labels": [f"{key}:{value}" for key, value in labels.items() if value],
            }
        ],
        "unmapped": {"raw_response_sha256": list(finding.raw or [])},
    }
