"""Azure protection (commitment 17, and 13 for logging): NSG default deny, Defender,
WAF in front of public endpoints, diagnostic settings and activity-log alerts.

Parameters: `defender_plans` (VirtualMachines, StorageAccounts, SqlServers),
`alert_operations` (policy assignment and NSG writes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.azure_hardening import covers, from_internet
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    posture_check,
    result,
    unknown_property,
)
from mamori.posture.snapshot import Snapshot

DEFAULT_DEFENDER_PLANS = ("VirtualMachines", "StorageAccounts", "SqlServers")
DEFAULT_ALERT_OPERATIONS = (
    "Microsoft.Authorization/policyAssignments/write",
    "Microsoft.Network/networkSecurityGroups/write",
)


def subscriptions(facts: PostureFacts) -> list[str]:
    """The Azure subscriptions the snapshot enumerated."""
    return sorted((facts.snapshot.scope.get("azure") or {}) if facts.snapshot else [])


def about(
    status: ResultStatus,
    subject: str,
    message: str,
    params: Mapping[str, str | int],
    subscription: str,
) -> Finding:
    """A result about a subscription-level setting (no resource to point at)."""
    return Finding(
        status,
        f"azure:{subject}",
        message,
        dict(params),
        {"provider": "azure", "account": subscription, "resource": subject},
    )


def call_failed(snapshot: Snapshot, service: str, resource: str = "", account: str = "") -> bool:
    """Whether a call of `service` about `resource` (or any listing of `account`) failed."""
    for entry in snapshot.failures("azure", service):
        if resource and entry.resource.lower() == resource.lower():
            return True
        if not resource and entry.account == account and not entry.resource:
            return True
    return False


def _strings(context: CheckContext, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = context.parameters.get(name)
    return (
        tuple(str(item) for item in value) if isinstance(value, list | tuple) and value else default
    )


@posture_check(
    id="azure_nsg_default_deny",
    title=LText(
        ja="NSG がインターネットからの通信を既定で拒否する",
        en="NSGs deny internet traffic by default",
    ),
    rationale=LText(
        ja="すべてのポートをインターネットに開くルールは既定拒否を無効にします。",
        en="A rule allowing every port from the internet voids the default deny.",
    ),
    remediation=LText(
        ja="全ポート許可のルールを削除し、必要なポートだけを許可してください。",
        en="Remove the allow-all rule and allow only the ports needed.",
    ),
    severity=Severity.HIGH,
    commitments=("security-requirements", "virtual-environment-segregation"),
    types=("azure.network.nsg",),
)
def nsg_default_deny(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """No inbound rule allows all ports from the internet."""
    for nsg in facts.resources("azure.network.nsg"):
        why = unknown_property(nsg, "rules")
        if why:
            yield result(
                facts,
                UNKNOWN,
                nsg,
                N_("The rules of %(name)s could not be read: %(error)s"),
                {"name": nsg.name, "error": why},
            )
            continue
        allow_all = [
            rule
            for rule in nsg.properties.get("rules") or []
            if rule.get("direction") == "inbound"
            and rule.get("action") == "allow"
            and from_internet(rule)
            and rule.get("from_port") is None
            and covers(rule, 1)
        ]
        if allow_all:
            yield result(
                facts,
                FAIL,
                nsg,
                N_("%(name)s allows every port from the internet."),
                {"name": nsg.name},
            )
        else:
            yield result(
                facts,
                PASS,
                nsg,
                N_("%(name)s denies internet traffic unless a rule allows it."),
                {"name": nsg.name},
            )


@posture_check(
    id="azure_defender_plans",
    title=LText(
        ja="Defender for Cloud の必要なプランが有効",
        en="The required Defender for Cloud plans are on",
    ),
    rationale=LText(
        ja="Defender は脅威を検知し、脆弱性を知らせます。",
        en="Defender detects threats and reports weaknesses.",
    ),
    remediation=LText(ja="該当プランを Standard にしてください。", en="Set the plan to Standard."),
    severity=Severity.HIGH,
    commitments=("security-requirements",),
    types=("azure.security.pricing",),
)
def defender_plans(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Each plan of `defender_plans` is Standard in every subscription."""
    wanted = _strings(context, "defender_plans", DEFAULT_DEFENDER_PLANS)
    pricings = facts.resources("azure.security.pricing")
    for subscription in subscriptions(facts):
        found = {
            str(p.properties.get("plan")).lower(): p for p in pricings if p.account == subscription
        }
        for plan in wanted:
            pricing = found.get(plan.lower())
            params = {"plan": plan, "subscription": subscription}
            if pricing is not None:
                ok = pricing.properties.get("tier") == "Standard"
                message = (
                    N_("Defender plan %(plan)s is Standard.")
                    if ok
                    else N_("Defender plan %(plan)s is not Standard (Free).")
                )
                yield result(facts, PASS if ok else FAIL, pricing, message, params)
            elif facts.snapshot and not call_failed(
                facts.snapshot, "security", account=subscription
            ):
                subject = (
                    f"/subscriptions/{subscription}/providers/Microsoft.Security/pricings/{plan}"
                )
                yield about(
                    FAIL,
                    subject,
                    N_("Defender plan %(plan)s is missing in %(subscription)s."),
                    params,
                    subscription,
                )


@posture_check(
    id="azure_app_gateway_waf",
    title=LText(
        ja="公開 Application Gateway で WAF が有効", en="Public application gateways have WAF on"
    ),
    rationale=LText(
        ja="WAF は Web アプリへの一般的な攻撃を止めます。",
        en="A WAF stops common attacks on web apps.",
    ),
    remediation=LText(
        ja="WAF_v2 SKU と WAF ポリシーを使ってください。",
        en="Use the WAF_v2 SKU with a WAF policy.",
    ),
    severity=Severity.MEDIUM,
    commitments=("security-requirements",),
    types=("azure.network.application_gateway",),
)
def app_gateway_waf(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """A gateway with a public frontend has WAF enabled."""
    for gateway in facts.resources("azure.network.application_gateway"):
        params = {"name": gateway.name}
        why = unknown_property(gateway, "public", "waf_enabled")
        if why:
            yield result(
                facts,
                UNKNOWN,
                gateway,
                N_("The WAF settings of %(name)s could not be read: %(error)s"),
                {**params, "error": why},
            )
        elif gateway.properties.get("waf_enabled") is True:
            yield result(facts, PASS, gateway, N_("%(name)s has WAF enabled."), params)
        elif gateway.properties.get("public"):
            yield result(facts, FAIL, gateway, N_("%(name)s is public without a WAF."), params)
        else:
            yield result(facts, PASS, gateway, N_("%(name)s is not public."), params)


@posture_check(
    id="azure_front_door_waf",
    title=LText(ja="Front Door に WAF ポリシーがある", en="Front Door profiles have a WAF policy"),
    rationale=LText(
        ja="Front Door はインターネットの入口です。", en="Front Door is an internet entry point."
    ),
    remediation=LText(
        ja="フロントエンドに WAF ポリシーを関連付けてください。",
        en="Link a WAF policy to the frontend endpoints.",
    ),
    severity=Severity.MEDIUM,
    commitments=("security-requirements",),
    types=("azure.frontdoor.profile",),
)
def front_door_waf(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every Front Door links a WAF policy."""
    for door in facts.resources("azure.frontdoor.profile"):
        why = unknown_property(door, "waf_policy")
        params = {"name": door.name}
        if why:
            yield result(
                facts,
                UNKNOWN,
                door,
                N_("The WAF settings of %(name)s could not be read: %(error)s"),
                {**params, "error": why},
            )
        elif door.properties.get("waf_policy"):
            yield result(facts, PASS, door, N_("%(name)s has WAF enabled."), params)
        else:
            yield result(facts, FAIL, door, N_("%(name)s has no WAF policy."), params)


@posture_check(
    id="azure_diagnostic_settings",
    title=LText(
        ja="主要リソースとアクティビティ ログに診断設定がある",
        en="Key resources and the activity log have diagnostic settings",
    ),
    rationale=LText(
        ja="診断設定がないとログは保存も分析もされません。",
        en="Without diagnostic settings logs are neither kept nor analysed.",
    ),
    remediation=LText(
        ja="Log Analytics かストレージへ送る診断設定を追加してください。",
        en="Add a diagnostic setting sending to Log Analytics or storage.",
    ),
    severity=Severity.MEDIUM,
    commitments=("event-logging", "security-requirements"),
    types=("azure.monitor.diagnostic_setting", "azure.storage.account"),
)
def diagnostic_settings(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every storage account and every subscription's activity log has a setting."""
    if facts.snapshot is None:
        return
    targets = {
        str(s.properties.get("target")).lower()
        for s in facts.snapshot.of_type("azure.monitor.diagnostic_setting")
    }
    for account in facts.snapshot.of_type("azure.storage.account"):
        status = _setting_status(facts.snapshot, account.id, targets)
        yield result(facts, status, account, _SETTING_MESSAGES[status], {"name": account.name})
    for subscription in subscriptions(facts):
        subject = f"/subscriptions/{subscription}"
        status = _setting_status(facts.snapshot, subject, targets)
        message = _ACTIVITY_MESSAGES[status]
        yield about(status, subject, message, {"subscription": subscription}, subscription)


_SETTING_MESSAGES = {
    PASS: N_("%(name)s sends its logs through a diagnostic setting."),
    FAIL: N_("%(name)s has no diagnostic setting."),
    UNKNOWN: N_("The diagnostic settings of %(name)s could not be read."),
}


_ACTIVITY_MESSAGES = {
    PASS: N_("The activity log of %(subscription)s is exported by a diagnostic setting."),
    FAIL: N_("The activity log of %(subscription)s has no diagnostic setting."),
    UNKNOWN: N_(
        "The diagnostic settings of the activity log of %(subscription)s could not be read."
    ),
}


def _setting_status(snapshot: Snapshot, target: str, targets: set[str]) -> ResultStatus:
    if target.lower() in targets:
        return PASS
    return UNKNOWN if call_failed(snapshot, "monitor", resource=target) else FAIL


@posture_check(
    id="azure_activity_log_alerts",
    title=LText(
        ja="セキュリティ操作にアクティビティ ログ アラートがある",
        en="Security operations raise activity-log alerts",
    ),
    rationale=LText(
        ja="ポリシーや NSG の変更は攻撃や誤操作の兆候です。",
        en="Policy and NSG changes can signal an attack or a mistake.",
    ),
    remediation=LText(
        ja="該当操作のアクティビティ ログ アラートを作成し、有効にしてください。",
        en="Create and enable an activity-log alert for the operation.",
    ),
    severity=Severity.MEDIUM,
    commitments=("security-requirements", "event-logging"),
    types=("azure.monitor.activity_log_alert",),
)
def activity_log_alerts(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Each operation of `alert_operations` has an enabled alert in every subscription."""
    wanted = _strings(context, "alert_operations", DEFAULT_ALERT_OPERATIONS)
    alerts = facts.resources("azure.monitor.activity_log_alert")
    for subscription in subscriptions(facts):
        if facts.snapshot and call_failed(facts.snapshot, "monitor", account=subscription):
            continue  # the failed listing is reported as unknown already
        for operation in wanted:
            matching = [
                a
                for a in alerts
                if a.account == subscription
                and str(a.properties.get("operation") or "").lower() == operation.lower()
            ]
            enabled = [a for a in matching if a.properties.get("enabled") is True]
            params = {"operation": operation, "subscription": subscription}
            if enabled:
                yield result(
                    facts, PASS, enabled[0], N_("An enabled alert watches %(operation)s."), params
                )
            elif matching:
                yield result(
                    facts, FAIL, matching[0], N_("The alert on %(operation)s is disabled."), params
                )
            else:
                subject = f"/subscriptions/{subscription}/alerts/{operation}"
                yield about(
                    FAIL,
                    subject,
                    N_("No activity-log alert watches %(operation)s."),
                    params,
                    subscription,
                )
