"""Azure event-log retention (commitment 13): Log Analytics workspaces keep logs long enough.

Parameters: `log_retention_months` (12), `log_never_expire_meets_policy` (true).
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    never_expire_ok,
    posture_check,
    result,
    retention_days_required,
    unknown_property,
)


@posture_check(
    id="azure_log_analytics_retention",
    title=LText(
        ja="Log Analytics が約束の期間ログを保持する",
        en="Log Analytics keeps logs for the promised period",
    ),
    rationale=LText(
        ja="約束した期間より早く消えるログは調査に使えません。",
        en="Logs deleted before the promised period cannot support an investigation.",
    ),
    remediation=LText(
        ja="ワークスペースの保持期間を約束の日数以上にしてください。",
        en="Raise the workspace retention to at least the promised days.",
    ),
    severity=Severity.HIGH,
    commitments=("event-logging",),
    types=("azure.loganalytics.workspace",),
)
def workspace_retention(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """retention_days >= `log_retention_months` in days; None by the never-expire rule."""
    required = retention_days_required(context)
    workspaces = facts.resources("azure.loganalytics.workspace")
    for workspace in workspaces:
        why = unknown_property(workspace, "retention_days")
        days = workspace.properties.get("retention_days")
        params: dict[str, str | int] = {
            "name": workspace.name,
            "days": str(days),
            "required": required,
            "error": why or "",
        }
        status, message = _verdict(context, why, days, required)
        yield result(facts, status, workspace, message, params)


def _verdict(
    context: CheckContext, why: str | None, days: object, required: int
) -> tuple[ResultStatus, str]:
    if why:
        return UNKNOWN, N_("The retention of %(name)s could not be read: %(error)s")
    if days is None:
        if never_expire_ok(context):
            return PASS, N_("%(name)s never deletes logs.")
        return FAIL, N_("%(name)s never deletes logs, which the policy does not allow.")
    if int(str(days)) >= required:
        return PASS, N_("%(name)s keeps logs %(days)s days (required: %(required)s).")
    return FAIL, N_("%(name)s keeps logs only %(days)s days (required: %(required)s).")
