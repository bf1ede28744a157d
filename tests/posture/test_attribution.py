"""Attribution of resources to services and tenants: tags, rules, errors, the check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mamori.commitments.registry import ResultStatus
from mamori.core.errors import InputError
from mamori.posture.attribution import SHARED, AttributionRules, attribute_all, load_rules
from tests.posture.support import aws, azure, by_subject, run_check, snapshot_of

TENANTS = {"midori-city-boe", "sakura-town-boe"}
SERVICES = {"total-id", "my-assess", "tabudori-live"}

RULES = """\
services:
  total-id: {network: dedicated}
  my-assess: {network: shared}
rules:
  - match: {provider: aws, accounts: ["222222222222"]}
    service: total-id
    tenant: shared
  - match: {tags: {Customer: "*"}}
    tenant_from_tag: Customer
  - match: {resource_groups: ["rg-assess-*"]}
    service: my-assess
  - match: {names: ["sakura-*"]}
    tenant: sakura-town-boe
"""


def rules(tmp_path: Path, text: str = RULES) -> AttributionRules:
    path = tmp_path / "attribution.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path, TENANTS, SERVICES)


def test_tags_decide_first_then_the_first_rule_that_gives_each_part(tmp_path: Path) -> None:
    loaded = rules(tmp_path)
    assert loaded.network_policy == {"total-id": "dedicated", "my-assess": "shared"}
    tagged = aws(
        "ec2.instance",
        "i-1",
        account="222222222222",
        tags={"mamori:service": "tabudori-live", "mamori:tenant": "midori-city-boe"},
    )
    shared = aws("ec2.vpc", "vpc-1", account="222222222222")
    by_tag = aws("s3.bucket", "b", account="333333333333", tags={"Customer": "sakura-town-boe"})
    in_group = azure("storage.account", "st1", tags={"Customer": "midori-city-boe"})
    in_group = replace(in_group, id="/subscriptions/s/resourceGroups/RG-Assess-1/p/st1")
    named = aws("s3.bucket", "sakura-logs", account="333333333333")
    nobody = aws("s3.bucket", "orphan", account="333333333333")
    placed = attribute_all(loaded, [tagged, shared, by_tag, in_group, named, nobody])
    assert (placed[tagged.key].service, placed[tagged.key].tenant) == (
        "tabudori-live",
        "midori-city-boe",
    )
    assert placed[tagged.key].rule == "tag"
    assert (placed[shared.key].service, placed[shared.key].tenant) == ("total-id", SHARED)
    assert placed[shared.key].placement == "shared"
    assert placed[by_tag.key].tenant == "sakura-town-boe"
    assert placed[by_tag.key].service is None
    assert (placed[in_group.key].service, placed[in_group.key].tenant) == (
        "my-assess",
        "midori-city-boe",
    )
    assert placed[named.key].tenant == "sakura-town-boe"
    assert placed[nobody.key].placement == "unattributed"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("rules:\n  - match: {provider: aws}\n    tenant: nobody\n", 3, "rules[0].tenant"),
        ("rules:\n  - match: {provider: gcp}\n    tenant: shared\n", 2, "rules[0].match.provider"),
        ("rules:\n  - match: {colour: red}\n    tenant: shared\n", 2, "rules[0].match"),
        ("rules:\n  - match: {provider: aws}\n", 2, "rules[0]"),
        ("rules:\n  - match: {provider: aws}\n    service: nope\n", 3, "rules[0].service"),
        ("services:\n  total-id: {network: open}\n", 2, "services.total-id.network"),
        ("other: 1\n", None, ""),
    ],
)
def test_mistakes_name_the_line_and_field(
    tmp_path: Path, text: str, line: int | None, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        rules(tmp_path, text)
    if line is not None:
        assert caught.value.line == line
    assert caught.value.field == field


def test_unattributed_resources_are_a_finding(tmp_path: Path) -> None:
    loaded = rules(tmp_path)
    good = aws("ec2.vpc", "vpc-1", account="222222222222")
    half = aws("s3.bucket", "b", account="333333333333", tags={"Customer": "sakura-town-boe"})
    setting = aws("ec2.region_settings", "ebs", account="333333333333")
    snapshot = snapshot_of([good, half, setting])
    findings = by_subject(
        run_check(
            "posture_resources_attributed",
            snapshot,
            attribution=attribute_all(loaded, snapshot.resources),
        )
    )
    assert findings[good.key][0].status is ResultStatus.PASS
    assert findings[half.key][0].status is ResultStatus.FAIL
    assert findings[half.key][0].params == {"missing": "service"}
    assert setting.key not in findings  # settings are nobody's resources
    assert findings[half.key][0].details["tenant"] == "sakura-town-boe"


def test_without_a_snapshot_posture_checks_are_unknown() -> None:
    [finding] = run_check("posture_resources_attributed", None)
    assert finding.status is ResultStatus.UNKNOWN
