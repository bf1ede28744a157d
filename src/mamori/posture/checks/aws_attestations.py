"""AWS's own verdicts as further evidence: AWS Config rules and Security Hub controls.

mamori keeps what the clouds already decide beside its own checks (commitment 17, as a
general attestation of the security requirements). A non-compliant rule or a failed
control fails, a compliant one passes; "insufficient data", warnings and controls that
could not run are unknown; rules that found nothing to judge are not applicable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    PostureFacts,
    posture_check,
    result,
    unknown_property,
)

ATTESTS = ("security-requirements",)

CONFIG_VERDICTS: Mapping[str, tuple[ResultStatus, str]] = {
    "COMPLIANT": (PASS, N_("AWS Config rule %(rule)s: compliant.")),
    "NON_COMPLIANT": (FAIL, N_("AWS Config rule %(rule)s: non-compliant.")),
    "NOT_APPLICABLE": (NOT_APPLICABLE, N_("AWS Config rule %(rule)s found nothing to judge.")),
}
HUB_VERDICTS: Mapping[str, tuple[ResultStatus, str]] = {
    "PASSED": (PASS, N_("Security Hub control %(control)s passed: %(title)s")),
    "FAILED": (FAIL, N_("Security Hub control %(control)s failed: %(title)s")),
}


@posture_check(
    id="aws_config_rules_compliant",
    title=LText(
        ja="AWS Config のルールに準拠している",
        en="AWS Config rules report compliance",
    ),
    rationale=LText(
        ja="AWS Config が評価した結果も、mamori のチェックと並ぶ構成の証跡になります。",
        en="What AWS Config itself evaluates is evidence of the configuration beside "
        "mamori's own checks.",
    ),
    remediation=LText(
        ja="非準拠のルールの対象リソースを AWS Config で確認し、設定を直してください。",
        en="Look up the rule's non-compliant resources in AWS Config and correct them.",
    ),
    severity=Severity.MEDIUM,
    commitments=ATTESTS,
    types=("aws.config.rule",),
)
def config_rules_compliant(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """One result per Config rule, from its compliance."""
    for rule in facts.resources("aws.config.rule"):
        why = unknown_property(rule, "compliance")
        compliance = str(rule.properties.get("compliance") or "")
        if why is not None or compliance not in CONFIG_VERDICTS:
            reason = why or compliance or "—"
            yield result(
                facts,
                UNKNOWN,
                rule,
                N_("AWS Config rule %(rule)s has no verdict: %(reason)s"),
                {"rule": rule.name, "reason": reason},
            )
            continue
        status, message = CONFIG_VERDICTS[compliance]
        yield result(facts, status, rule, message, {"rule": rule.name})


@posture_check(
    id="aws_security_hub_controls_passed",
    title=LText(
        ja="Security Hub のコントロールに合格している",
        en="Security Hub controls pass",
    ),
    rationale=LText(
        ja="Security Hub の標準のチェック結果も、構成が要件を満たすことの証跡になります。",
        en="Security Hub's standard controls are further evidence that the configuration "
        "meets the security requirements.",
    ),
    remediation=LText(
        ja="Security Hub で不合格のコントロールの対象リソースを確認し、修正してください。",
        en="Open the failed control in Security Hub and correct the resources it names.",
    ),
    severity=Severity.MEDIUM,
    commitments=ATTESTS,
    types=("aws.securityhub.finding",),
)
def security_hub_controls_passed(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """One result per active Security Hub control finding, from its compliance status."""
    for finding in facts.resources("aws.securityhub.finding"):
        compliance = str(finding.properties.get("compliance") or "")
        params: dict[str, str | int] = {
            "control": str(finding.properties.get("control_id") or "—"),
            "title": str(finding.properties.get("title") or finding.name),
        }
        if compliance in HUB_VERDICTS:
            status, message = HUB_VERDICTS[compliance]
            yield result(facts, status, finding, message, params)
        else:
            yield result(
                facts,
                UNKNOWN,
                finding,
                N_("Security Hub control %(control)s could not decide (%(status)s): %(title)s"),
                {**params, "status": compliance or "—"},
            )
