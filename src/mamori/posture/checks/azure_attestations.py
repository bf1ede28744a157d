"""Azure Policy as the provider's own attestation: Allowed locations (commitment 3) and
the ISO/IEC 27017 built-in initiative (commitment 17, a general attestation).

Each latest policy state is a result: NonCompliant fails naming the assignment and the
definition, Compliant passes, anything else is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import FAIL, PASS, UNKNOWN, PostureFacts, posture_check, result
from mamori.posture.snapshot import Resource

# Built-in "Allowed locations" and "Allowed locations for resource groups"
ALLOWED_LOCATION_DEFINITIONS = (
    "e56962a6-4747-49cd-b67b-bf8b01975c4c",
    "e765b5de-1225-4ba3-bd56-1ac6695af988",
)


def is_allowed_locations(state: Resource) -> bool:
    """Whether the state is about an Allowed locations definition."""
    definition = str(state.properties.get("definition") or "").lower()
    return any(definition.endswith(guid) for guid in ALLOWED_LOCATION_DEFINITIONS)


def is_iso27017(state: Resource) -> bool:
    """Whether the state belongs to an initiative named for ISO/IEC 27017."""
    return "27017" in str(state.properties.get("initiative") or "")


_VERDICTS = {
    "NonCompliant": (
        FAIL,
        N_("Azure Policy %(assignment)s (%(definition)s) finds %(resource)s non-compliant."),
    ),
    "Compliant": (
        PASS,
        N_("Azure Policy %(assignment)s (%(definition)s) finds %(resource)s compliant."),
    ),
}
_UNDECIDED = N_("Azure Policy %(assignment)s (%(definition)s) has not decided on %(resource)s.")


def _states(facts: PostureFacts, wanted: Callable[[Resource], bool]) -> Iterator[Finding]:
    """One result per wanted policy state: its compliance, naming assignment and definition."""
    for state in facts.resources("azure.policy.state"):
        if not wanted(state):
            continue
        props = state.properties
        params = {
            "assignment": str(props.get("assignment_name") or props.get("assignment")),
            "definition": str(
                props.get("definition_reference")
                or props.get("definition_name")
                or props.get("definition")
            ),
            "resource": str(props.get("resource") or "").rsplit("/", 1)[-1],
        }
        status, message = _VERDICTS.get(str(props.get("compliance")), (UNKNOWN, _UNDECIDED))
        yield result(facts, status, state, message, params, compliance=props.get("compliance"))


@posture_check(
    id="azure_policy_allowed_locations",
    title=LText(
        ja="Azure Policy「許可されている場所」に準拠している",
        en='Azure Policy "Allowed locations" is complied with',
    ),
    rationale=LText(
        ja="Azure 自身の評価で、リソースが許可された場所にあることを示します。",
        en="Azure's own evaluation that resources are in the allowed locations.",
    ),
    remediation=LText(
        ja="非準拠のリソースを許可された場所へ移すか削除してください。",
        en="Move or remove the non-compliant resources.",
    ),
    severity=Severity.HIGH,
    commitments=("data-storage-location",),
    types=("azure.policy.state",),
)
def allowed_locations(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every Allowed locations state is Compliant."""
    yield from _states(facts, is_allowed_locations)


@posture_check(
    id="azure_policy_iso27017",
    title=LText(
        ja="ISO/IEC 27017 イニシアチブに準拠している",
        en="The ISO/IEC 27017 policy initiative is complied with",
    ),
    rationale=LText(
        ja="Azure の組み込みイニシアチブによる ISO/IEC 27017 管理策の評価です。",
        en="Azure's built-in initiative evaluates the ISO/IEC 27017 controls.",
    ),
    remediation=LText(
        ja="非準拠となった定義ごとに、該当リソースの設定を直してください。",
        en="Fix each non-compliant resource for the definition named.",
    ),
    severity=Severity.MEDIUM,
    commitments=("security-requirements",),
    types=("azure.policy.state",),
)
def iso27017(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every state of the ISO/IEC 27017 initiative is Compliant."""
    yield from _states(facts, is_iso27017)
