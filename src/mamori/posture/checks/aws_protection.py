"""AWS protective controls (commitment 17, security-requirements).

Security groups deny by default; GuardDuty watches every region in use, with malware
protection; internet-facing entry points (ALBs, CloudFront, API Gateway) sit behind a
WAF web ACL; every account has a multi-region CloudTrail trail that is logging, validates
its log files and writes to a bucket protected by object lock or MFA delete; and alarms
watch metric filters for unauthorized API calls and failed console sign-ins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import (
    aws_resources,
    listing_failed,
    place_result,
    unknown_result,
    unread,
    used_regions,
)
from mamori.posture.checks.aws_hardening import from_anywhere
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    posture_check,
    result,
    unknown_property,
)
from mamori.posture.snapshot import GLOBAL_REGION, Resource, Snapshot

PROTECTION = ("security-requirements",)


def accounts_in(snapshot: Snapshot) -> list[str]:
    """Every AWS account the snapshot enumerated or holds anything of."""
    accounts = {r.account for r in snapshot.resources if r.provider == "aws" and r.account}
    return sorted(accounts | set(snapshot.scope.get("aws", {})))


def failed_anywhere(snapshot: Snapshot, services: Iterable[str], account: str) -> list[str]:
    """`service:operation` of failed listings of `services` in `account`, any region."""
    wanted = set(services)
    return sorted(
        {
            f"{entry.service}:{entry.operation}"
            for entry in snapshot.coverage
            if not entry.ok
            and not entry.resource
            and entry.provider == "aws"
            and entry.service in wanted
            and entry.account in (account, "")
        }
    )


def allows_everything(rule: Mapping[str, Any]) -> bool:
    """An inbound allow of all protocols and all ports from anywhere."""
    if not from_anywhere(rule):
        return False
    protocol = str(rule.get("protocol", "all")).lower()
    low, high = rule.get("from_port"), rule.get("to_port")
    all_ports = low is None or high is None or (int(low) <= 0 and int(high) >= 65535)
    return protocol in ("all", "-1") and all_ports


@posture_check(
    id="aws_security_groups_default_deny",
    title=LText(
        ja="セキュリティグループがすべての通信を無条件に許可していない",
        en="Security groups deny by default",
    ),
    rationale=LText(
        ja="全プロトコル・全ポートをインターネット全体に許可するルールは、"
        "ファイアウォールがないのと同じです。",
        en="A rule allowing every protocol and port from anywhere is the same as no firewall.",
    ),
    remediation=LText(
        ja="そのルールを削除し、必要なポートと送信元だけを個別に許可してください。",
        en="Delete the rule and allow only the ports and sources that are needed.",
    ),
    severity=Severity.CRITICAL,
    commitments=PROTECTION,
    types=("aws.ec2.security_group",),
)
def security_groups_default_deny(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per security group: no inbound rule allows all traffic from anywhere."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for group in aws_resources(facts.snapshot, "aws.ec2.security_group"):
        missing = unread(group, "rules")
        if missing:
            yield unknown_result(facts, group, missing)
        elif any(allows_everything(rule) for rule in group.properties["rules"] or ()):
            yield result(facts, FAIL, group, N_("Allows all traffic from anywhere on every port."))
        else:
            yield result(
                facts, PASS, group, N_("Allows only specific traffic; everything else is denied.")
            )


@posture_check(
    id="aws_guardduty_in_used_regions",
    title=LText(
        ja="使用中のすべてのリージョンで GuardDuty が有効になっている",
        en="GuardDuty is on in every region in use",
    ),
    rationale=LText(
        ja="GuardDuty はリージョンごとに有効にする必要があります。"
        "リソースがあるのに GuardDuty がないリージョンでは脅威を検知できません。",
        en="GuardDuty works per region; a region holding resources without it is unwatched.",
    ),
    remediation=LText(
        ja="そのリージョンで GuardDuty を有効にしてください"
        "（組織の委任管理者から自動で有効にすることもできます）。",
        en="Enable GuardDuty in the region (or auto-enable it from the organisation's "
        "delegated administrator).",
    ),
    severity=Severity.HIGH,
    commitments=PROTECTION,
    types=("aws.guardduty.detector",),
)
def guardduty_in_used_regions(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per account and region holding resources: an enabled detector."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    detectors: dict[tuple[str, str], list[Resource]] = {}
    for detector in aws_resources(facts.snapshot, "aws.guardduty.detector"):
        detectors.setdefault((detector.account, detector.region), []).append(detector)
    for account, regions in sorted(used_regions(facts).items()):
        for region in sorted(regions):
            found = detectors.get((account, region), [])
            if not found:
                if listing_failed(facts.snapshot, "guardduty", account, region):
                    continue  # the failed listing is already an unknown result
                yield place_result(
                    FAIL,
                    account,
                    region,
                    "guardduty",
                    N_("Resources exist in %(region)s but GuardDuty has no detector there."),
                    {"region": region},
                )
                continue
            enabled = [d for d in found if d.properties.get("enabled") is True]
            if enabled:
                yield result(
                    facts,
                    PASS,
                    enabled[0],
                    N_("GuardDuty is on in %(region)s."),
                    {"region": region},
                )
                continue
            unsure = [d for d in found if unread(d, "enabled")]
            if unsure:
                missing = unread(unsure[0], "enabled")
                assert missing is not None  # noqa: S101 - just checked
                yield unknown_result(facts, unsure[0], missing)
            else:
                yield result(
                    facts,
                    FAIL,
                    found[0],
                    N_("GuardDuty is suspended in %(region)s."),
                    {"region": region},
                )


@posture_check(
    id="aws_guardduty_malware_protection",
    title=LText(
        ja="GuardDuty のマルウェア保護が有効になっている",
        en="GuardDuty malware protection is on",
    ),
    rationale=LText(
        ja="マルウェア保護を有効にすると、不審な挙動のあったインスタンスの EBS ボリュームを"
        "エージェントなしでスキャンできます。",
        en="Malware protection scans the EBS volumes of suspicious instances without an agent.",
    ),
    remediation=LText(
        ja="GuardDuty の保護プランで EC2 のマルウェア保護を有効にしてください。",
        en="Turn on Malware Protection for EC2 in GuardDuty's protection plans.",
    ),
    severity=Severity.MEDIUM,
    commitments=PROTECTION,
    types=("aws.guardduty.detector",),
)
def guardduty_malware_protection(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per enabled detector: EBS malware protection on."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for detector in aws_resources(facts.snapshot, "aws.guardduty.detector"):
        if detector.properties.get("enabled") is False:
            continue  # a suspended detector is the other check's failure
        missing = unread(detector, "enabled", "malware_protection")
        if missing:
            yield unknown_result(facts, detector, missing)
        elif detector.properties["malware_protection"] is True:
            yield result(facts, PASS, detector, N_("Malware protection is on."))
        else:
            yield result(facts, FAIL, detector, N_("Malware protection is off."))


def _web_acl(facts: PostureFacts, resource: Resource) -> Finding:
    missing = unread(resource, "web_acl")
    if missing:
        return unknown_result(facts, resource, missing)
    acl = resource.properties["web_acl"]
    if acl:
        return result(facts, PASS, resource, N_("Protected by the web ACL %(acl)s."), {"acl": acl})
    return result(facts, FAIL, resource, N_("Reachable from the internet without a WAF web ACL."))


@posture_check(
    id="aws_waf_on_public_endpoints",
    title=LText(
        ja="インターネットに公開した入口に WAF が設定されている",
        en="Internet-facing entry points are behind a WAF",
    ),
    rationale=LText(
        ja="公開された ALB、CloudFront、API Gateway に WAF がないと、"
        "SQL インジェクションなどの一般的な攻撃をその手前で止められません。",
        en="Without a WAF, public ALBs, CloudFront distributions and API stages let common "
        "attacks such as SQL injection straight through.",
    ),
    remediation=LText(
        ja="AWS WAF の Web ACL（マネージドルールを含む）を作成して関連付けてください。",
        en="Create an AWS WAF web ACL (with managed rule groups) and associate it.",
    ),
    severity=Severity.HIGH,
    commitments=PROTECTION,
    types=(
        "aws.elbv2.load_balancer",
        "aws.cloudfront.distribution",
        "aws.apigateway.stage",
    ),
)
def waf_on_public_endpoints(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per internet-facing ALB, CloudFront distribution and EDGE/REGIONAL API stage."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for balancer in aws_resources(facts.snapshot, "aws.elbv2.load_balancer"):
        missing = unread(balancer, "kind", "scheme")
        if missing:
            yield unknown_result(facts, balancer, missing)
        elif (
            balancer.properties["kind"] == "application"
            and balancer.properties["scheme"] == "internet-facing"
        ):
            yield _web_acl(facts, balancer)
    for distribution in aws_resources(facts.snapshot, "aws.cloudfront.distribution"):
        yield _web_acl(facts, distribution)
    for stage in aws_resources(facts.snapshot, "aws.apigateway.stage"):
        missing = unread(stage, "endpoint_type")
        if missing:
            yield unknown_result(facts, stage, missing)
        elif str(stage.properties["endpoint_type"]).upper() in ("EDGE", "REGIONAL"):
            yield _web_acl(facts, stage)


def _trail_ok(trail: Resource) -> ResultStatus:
    """PASS for a multi-region, logging, validating trail; UNKNOWN if unreadable."""
    names = ("multi_region", "logging", "log_file_validation")
    if any(unread(trail, name) for name in names):
        return UNKNOWN
    return PASS if all(trail.properties[name] is True for name in names) else FAIL


def _bucket_protected(snapshot: Snapshot, name: str) -> tuple[ResultStatus, str]:
    """Whether the trail's bucket has object lock or MFA delete, and how."""
    bucket = next((b for b in aws_resources(snapshot, "aws.s3.bucket") if b.name == name), None)
    if bucket is None:
        return UNKNOWN, "not in snapshot"
    protections = [p for p in ("object_lock", "mfa_delete") if bucket.properties.get(p) is True]
    if protections:
        return PASS, "+".join(protections)
    why = unknown_property(bucket, "object_lock") or unknown_property(bucket, "mfa_delete")
    if why or "object_lock" not in bucket.properties or "mfa_delete" not in bucket.properties:
        return UNKNOWN, why or "not collected"
    return FAIL, ""


@posture_check(
    id="aws_cloudtrail_multi_region_protected",
    title=LText(
        ja="各アカウントに改ざん対策した複数リージョンの CloudTrail 証跡がある",
        en="Every account has a tamper-protected multi-region CloudTrail trail",
    ),
    rationale=LText(
        ja="すべてのリージョンの操作を記録し、ログファイルの検証を有効にして、保存先を"
        "オブジェクトロックや MFA 削除で守ることで、操作記録の欠落と改ざんを防ぎます。",
        en="Recording every region, validating log files and protecting the bucket with "
        "object lock or MFA delete keep the activity record complete and unaltered.",
    ),
    remediation=LText(
        ja="複数リージョンの証跡を作成してログ記録とログファイルの検証を有効にし、"
        "保存先バケットにオブジェクトロックまたは MFA 削除を設定してください。",
        en="Create a multi-region trail with logging and log file validation on, and enable "
        "object lock or MFA delete on its bucket.",
    ),
    severity=Severity.HIGH,
    commitments=(*PROTECTION, "event-logging"),
    types=("aws.cloudtrail.trail", "aws.s3.bucket"),
)
def cloudtrail_multi_region(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per account: a good trail whose bucket is protected."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    trails: dict[str, dict[str, Resource]] = {}
    for trail in aws_resources(facts.snapshot, "aws.cloudtrail.trail"):
        trails.setdefault(trail.account, {}).setdefault(trail.id, trail)
    for account in accounts_in(facts.snapshot):
        mine = list(trails.get(account, {}).values())
        verdicts = [(trail, _trail_ok(trail)) for trail in mine]
        good = [trail for trail, status in verdicts if status is PASS]
        if not good:
            failed = failed_anywhere(facts.snapshot, ("cloudtrail",), account)
            if failed or any(status is UNKNOWN for _, status in verdicts):
                yield place_result(
                    UNKNOWN,
                    account,
                    GLOBAL_REGION,
                    "cloudtrail",
                    N_("Whether a multi-region trail is logging could not be read (%(calls)s)."),
                    {"calls": ", ".join(failed) or "trail status"},
                )
            else:
                yield place_result(
                    FAIL,
                    account,
                    GLOBAL_REGION,
                    "cloudtrail",
                    N_("No multi-region trail that is logging with log file validation."),
                )
            continue
        outcomes = []
        for trail in good:
            name = str(trail.properties.get("s3_bucket") or "")
            status, how = _bucket_protected(facts.snapshot, name)
            outcomes.append((status, trail, name, how))
        best = next((o for o in outcomes if o[0] is PASS), None)
        best = best or next((o for o in outcomes if o[0] is UNKNOWN), None) or outcomes[0]
        status, trail, name, how = best
        params = {"bucket": name, "protection": how}
        if status is PASS:
            yield result(
                facts,
                PASS,
                trail,
                N_("Multi-region trail logging to %(bucket)s, protected by %(protection)s."),
                params,
            )
        elif status is UNKNOWN:
            yield result(
                facts,
                UNKNOWN,
                trail,
                N_(
                    "Whether the trail's bucket %(bucket)s is protected is unknown: %(protection)s."
                ),
                params,
            )
        else:
            yield result(
                facts,
                FAIL,
                trail,
                N_("The trail's bucket %(bucket)s has neither object lock nor MFA delete."),
                params,
            )


SECURITY_EVENTS: dict[str, tuple[tuple[str, ...], ...]] = {
    # category -> alternatives, each a tuple of words that must all appear (case-insensitive)
    "UnauthorizedOperation/AccessDenied": (("unauthorizedoperation",), ("accessdenied",)),
    "ConsoleLogin failures": (("consolelogin", "fail"), ("consolelogin", "errormessage")),
}


def _categories(pattern: str) -> set[str]:
    text = pattern.lower()
    return {
        category
        for category, alternatives in SECURITY_EVENTS.items()
        if any(all(word in text for word in words) for words in alternatives)
    }


@posture_check(
    id="aws_security_event_alarms",
    title=LText(
        ja="不正な API 呼び出しとコンソールへのサインイン失敗にアラームを設定している",
        en="Alarms watch unauthorized API calls and failed console sign-ins",
    ),
    rationale=LText(
        ja="CloudTrail のログにメトリクスフィルターとアラームを設定しておけば、"
        "権限のない操作やパスワードの総当たりにすぐ気付けます。",
        en="Metric filters and alarms on the CloudTrail log reveal unauthorized actions and "
        "password guessing as they happen.",
    ),
    remediation=LText(
        ja="CloudTrail のロググループに UnauthorizedOperation/AccessDenied と ConsoleLogin の"
        "失敗を数えるメトリクスフィルターを作り、それぞれに通知先のあるアラームを設定してください。",
        en="Add metric filters counting UnauthorizedOperation/AccessDenied and failed "
        "ConsoleLogin events to the CloudTrail log group, each with an alarm that notifies "
        "someone.",
    ),
    severity=Severity.MEDIUM,
    commitments=(*PROTECTION, "event-logging"),
    types=("aws.logs.log_group", "aws.cloudwatch.alarm"),
)
def security_event_alarms(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per account: both security-event categories have a filter with an enabled alarm."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    alarms: set[tuple[str, str, str, str]] = set()
    alarms_unsure: set[str] = set()
    for alarm in aws_resources(facts.snapshot, "aws.cloudwatch.alarm"):
        if unread(alarm, "metric_name", "namespace", "actions_enabled"):
            alarms_unsure.add(alarm.account)
        elif alarm.properties["actions_enabled"] is True:
            alarms.add(
                (
                    alarm.account,
                    alarm.region,
                    str(alarm.properties["namespace"]),
                    str(alarm.properties["metric_name"]),
                )
            )
    covered: dict[str, set[str]] = {}
    filters_unsure: set[str] = set()
    for group in aws_resources(facts.snapshot, "aws.logs.log_group"):
        if unread(group, "metric_filters"):
            filters_unsure.add(group.account)
            continue
        for metric_filter in group.properties["metric_filters"] or ():
            where = (
                group.account,
                group.region,
                str(metric_filter.get("metric_namespace")),
                str(metric_filter.get("metric_name")),
            )
            if where in alarms:
                covered.setdefault(group.account, set()).update(
                    _categories(str(metric_filter.get("pattern") or ""))
                )
    for account in accounts_in(facts.snapshot):
        have = covered.get(account, set())
        lacking = [category for category in SECURITY_EVENTS if category not in have]
        if not lacking:
            yield place_result(
                PASS,
                account,
                GLOBAL_REGION,
                "security-alarms",
                N_("Alarms watch: %(events)s."),
                {"events": ", ".join(sorted(have))},
            )
            continue
        failed = failed_anywhere(facts.snapshot, ("logs", "cloudwatch"), account)
        if failed or account in filters_unsure or account in alarms_unsure:
            yield place_result(
                UNKNOWN,
                account,
                GLOBAL_REGION,
                "security-alarms",
                N_("Metric filters or alarms could not all be read; not alarmed yet: %(events)s."),
                {"events": ", ".join(lacking)},
                calls=failed,
            )
        else:
            yield place_result(
                FAIL,
                account,
                GLOBAL_REGION,
                "security-alarms",
                N_("No alarmed metric filter for: %(events)s."),
                {"events": ", ".join(lacking)},
            )
