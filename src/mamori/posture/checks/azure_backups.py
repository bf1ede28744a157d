"""Azure backups (commitment 12): production VMs have a recent backup.

Parameters: `maximum_backup_age_days` (7), `production_tags`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.clock import as_utc
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    number,
    posture_check,
    production_test,
    result,
)
from mamori.posture.snapshot import Snapshot, is_unknown


def _moment(text: object) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00"))) if text else None
    except ValueError:
        return None


@posture_check(
    id="azure_vm_backup_recent",
    title=LText(ja="本番 VM に最近のバックアップがある", en="Production VMs have a recent backup"),
    rationale=LText(
        ja="古いバックアップでは約束した時点までデータを戻せません。",
        en="An old backup cannot restore data to the promised point.",
    ),
    remediation=LText(
        ja="VM を Recovery Services コンテナーで保護し、バックアップの失敗を直してください。",
        en="Protect the VM in a Recovery Services vault and fix failing backups.",
    ),
    severity=Severity.HIGH,
    commitments=("backup",),
    types=("azure.compute.vm", "azure.recoveryservices.backup_item"),
)
def vm_backup(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """The newest backup of each production VM is younger than `maximum_backup_age_days`."""
    if facts.snapshot is None:
        return
    limit = number(context, "maximum_backup_age_days", 7)
    latest, unreadable = _latest_backups(facts.snapshot)
    # a failed vault or item listing may hide a VM's backups: no "missing" verdict then
    hidden = {
        entry.account
        for entry in facts.snapshot.failures("azure", "recoveryservices")
        if entry.operation in BACKUP_LISTINGS
    }
    is_production = production_test(context)
    for vm in facts.snapshot.of_type("azure.compute.vm"):
        if not is_production(vm):
            continue
        key = vm.id.lower()
        params: dict[str, str | int] = {"name": vm.name, "days": int(limit)}
        when = latest.get(key)
        if key in unreadable or (when is None and vm.account in hidden):
            yield result(
                facts, UNKNOWN, vm, N_("The backups of %(name)s could not be read."), params
            )
        elif when is None:
            yield result(facts, FAIL, vm, N_("%(name)s has no backup."), params)
        else:
            age = facts.snapshot.collected_at - when
            params["age"] = int(age / timedelta(days=1))
            ok = age <= timedelta(days=limit)
            message = _RECENT if ok else _STALE
            yield result(facts, PASS if ok else FAIL, vm, message, params, last=when.isoformat())


BACKUP_LISTINGS = ("resources.list(vaults)", "backup_protected_items.list")
_RECENT = N_("The latest backup of %(name)s is %(age)s days old (limit: %(days)s).")
_STALE = N_("The latest backup of %(name)s is %(age)s days old, older than %(days)s days.")


def _latest_backups(snapshot: Snapshot) -> tuple[dict[str, datetime], set[str]]:
    """Source id (lower case) -> newest backup time, and the sources whose time is unknown."""
    latest: dict[str, datetime] = {}
    unreadable: set[str] = set()
    for item in snapshot.of_type("azure.recoveryservices.backup_item"):
        source = str(item.properties.get("source") or "").lower()
        moment = item.properties.get("last_backup_time")
        when = None if is_unknown(moment) else _moment(moment)
        if is_unknown(moment):
            unreadable.add(source)
        elif when is not None and (source not in latest or when > latest[source]):
            latest[source] = when
    return latest, unreadable
