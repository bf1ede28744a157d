"""AWS log retention (commitment 13, event-logging).

CloudWatch log groups keep events at least `log_retention_months` (as days, see
`retention_days_required`); "never expire" passes or fails by
`log_never_expire_meets_policy`. Buckets that receive logs (`log_bucket`) must not
expire objects sooner: any enabled lifecycle rule with a shorter expiration fails, even
one limited to a prefix, because the snapshot cannot tell which prefixes hold the logs.
A log bucket without any expiration keeps its logs forever, judged like a log group that
never expires.
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import aws_resources, unknown_result, unread
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    never_expire_ok,
    posture_check,
    result,
    retention_days_required,
)

LOGGING = ("event-logging",)


@posture_check(
    id="aws_log_groups_retention",
    title=LText(
        ja="CloudWatch ロググループを約束した期間保存している",
        en="CloudWatch log groups keep events for the promised period",
    ),
    rationale=LText(
        ja="保存期間が約束より短いと、調査に必要なログが先に消えてしまいます。",
        en="A retention shorter than promised deletes logs before an investigation needs them.",
    ),
    remediation=LText(
        ja="ロググループの保持期間を約束の期間以上に設定してください。",
        en="Set the log group's retention to at least the promised period.",
    ),
    severity=Severity.HIGH,
    commitments=LOGGING,
    types=("aws.logs.log_group",),
)
def log_groups_retention(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per log group: retention at least the promise; never-expire per the parameter."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    required = retention_days_required(context)
    forever_ok = never_expire_ok(context)
    for group in aws_resources(facts.snapshot, "aws.logs.log_group"):
        missing = unread(group, "retention_days")
        if missing:
            yield unknown_result(facts, group, missing)
            continue
        days = group.properties["retention_days"]
        params: dict[str, str | int] = {"required": required}
        if days is None:
            yield result(
                facts,
                PASS if forever_ok else FAIL,
                group,
                N_("Events never expire; the promise allows keeping them forever.")
                if forever_ok
                else N_("Events never expire, but the promise says they must be deleted."),
                params,
            )
        elif not isinstance(days, int | float):
            yield result(
                facts,
                UNKNOWN,
                group,
                N_("%(property)s has an unexpected value: %(value)s"),
                {"property": "retention_days", "value": str(days)},
            )
        else:
            params["days"] = int(days)
            yield result(
                facts,
                PASS if days >= required else FAIL,
                group,
                N_("Kept %(days)s days; the promise needs %(required)s.")
                if days >= required
                else N_("Kept only %(days)s days; the promise needs %(required)s."),
                params,
            )


@posture_check(
    id="aws_log_buckets_lifecycle",
    title=LText(
        ja="ログを受け取る S3 バケットが約束より早くログを消さない",
        en="Log buckets do not expire logs before the promised period",
    ),
    rationale=LText(
        ja="CloudTrail やアクセスログの保存先でライフサイクルの有効期限が短いと、"
        "約束した期間より前にログが削除されます。",
        en="A short lifecycle expiration on the bucket receiving CloudTrail or access logs "
        "deletes them before the promised period ends.",
    ),
    remediation=LText(
        ja="ライフサイクルルールの有効期限を約束の期間以上に延ばしてください"
        "（安価なストレージクラスへの移行で費用を抑えられます）。",
        en="Lengthen the lifecycle expiration to at least the promised period (transition to "
        "cheaper storage classes to keep the cost down).",
    ),
    severity=Severity.HIGH,
    commitments=LOGGING,
    types=("aws.s3.bucket",),
)
def log_buckets_lifecycle(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per log bucket: no enabled expiration shorter than the promise."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    required = retention_days_required(context)
    forever_ok = never_expire_ok(context)
    for bucket in aws_resources(facts.snapshot, "aws.s3.bucket"):
        missing = unread(bucket, "log_bucket")
        if missing:
            yield unknown_result(facts, bucket, missing)
            continue
        if bucket.properties["log_bucket"] is not True:
            continue
        missing = unread(bucket, "lifecycle")
        if missing:
            yield unknown_result(facts, bucket, missing)
            continue
        expirations = [
            (str(rule.get("id") or "-"), int(rule["expiration_days"]))
            for rule in bucket.properties["lifecycle"] or ()
            if rule.get("enabled") and rule.get("expiration_days") is not None
        ]
        short = [(rule, days) for rule, days in expirations if days < required]
        params: dict[str, str | int] = {"required": required}
        if short:
            params["rules"] = ", ".join(f"{rule} ({days})" for rule, days in short)
            yield result(
                facts,
                FAIL,
                bucket,
                N_("Lifecycle rules expire logs sooner than %(required)s days: %(rules)s."),
                params,
            )
        elif expirations:
            params["days"] = min(days for _, days in expirations)
            yield result(
                facts,
                PASS,
                bucket,
                N_(
                    "Logs expire after %(days)s days at the earliest; "
                    "the promise needs %(required)s."
                ),
                params,
            )
        else:
            yield result(
                facts,
                PASS if forever_ok else FAIL,
                bucket,
                N_("No lifecycle expiration; logs are kept until deleted by hand.")
                if forever_ok
                else N_("No lifecycle expiration, but the promise says logs must be deleted."),
                params,
            )
