"""Azure Policy compliance states: the provider's own attestations, as `azure.policy.state`.

The latest state of every (assignment, definition, resource) in the subscription comes
from Policy Insights. Initiatives (policy set definitions) are named by their display
name, read once per initiative, so the ISO/IEC 27017 built-in initiative is recognisable
by name; when that read fails the initiative's id name stands in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azure.mgmt.policyinsights import PolicyInsightsClient

from mamori.posture.collectors.azure_calls import Failure, raw_get
from mamori.posture.snapshot import GLOBAL_REGION

if TYPE_CHECKING:
    from mamori.posture.collectors.azure import SubscriptionCollector

POLICY_API = "2023-04-01"


def collect_policy_states(collector: SubscriptionCollector) -> None:
    """Add one `azure.policy.state` per latest policy state of the subscription."""
    client = collector.client(PolicyInsightsClient)
    subscription = collector.subscription
    states = collector.listing(
        "policyinsights",
        "policy_states.list_query_results_for_subscription(latest)",
        lambda: client.policy_states.list_query_results_for_subscription("latest", subscription),
    )
    names: dict[str, tuple[str | None, str | None]] = {}
    for state, digest in states:
        set_id = state.get("policySetDefinitionId") or ""
        if set_id and set_id not in names:
            names[set_id] = initiative_name(collector, client, state)
        initiative, extra = names.get(set_id, (None, None))
        item = {
            "id": state_id(state),
            "name": state.get("policyAssignmentName") or "",
            "location": state.get("resourceLocation") or GLOBAL_REGION,
        }
        raw = (digest, extra) if extra else (digest,)
        collector.add("azure.policy.state", item, properties(state, initiative), *raw)


def properties(state: dict[str, Any], initiative: str | None) -> dict[str, Any]:
    """The declared properties of a policy state, plus the names that identify it."""
    return {
        "assignment": state.get("policyAssignmentId"),
        "definition": state.get("policyDefinitionId"),
        "initiative": initiative,
        "compliance": state.get("complianceState") or "Unknown",
        "resource": state.get("resourceId"),
        "assignment_name": state.get("policyAssignmentName"),
        "definition_name": state.get("policyDefinitionName"),
        "definition_reference": state.get("policyDefinitionReferenceId") or None,
    }


def state_id(state: dict[str, Any]) -> str:
    """A unique id: the evaluated resource, the assignment and the definition."""
    reference = state.get("policyDefinitionReferenceId") or state.get("policyDefinitionName")
    return (
        f"{state.get('resourceId')}/providers/Microsoft.PolicyInsights/policyStates/latest"
        f"/{state.get('policyAssignmentName')}/{reference}"
    )


def initiative_name(
    collector: SubscriptionCollector, client: Any, state: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The initiative's display name and the digest of the answer that gave it."""
    set_id = str(state.get("policySetDefinitionId"))
    fallback = state.get("policySetDefinitionName") or set_id.rsplit("/", 1)[-1]
    url = f"{collector.parent.base_url}{set_id}?api-version={POLICY_API}"
    answer = collector.calls.call(
        "policyinsights",
        "policy_set_definitions.get",
        lambda: raw_get(client, url),
        resource=set_id,
    )
    if isinstance(answer, Failure):
        return fallback, None
    display = (answer.body.get("properties") or {}).get("displayName")
    return str(display or fallback), answer.digest
