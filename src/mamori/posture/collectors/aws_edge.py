"""Edge, monitoring and assurance services in one region.

Load balancers and API stages (with their TLS and WAF), CloudWatch alarms, GuardDuty,
CloudTrail, and the native attestations of Config rules and Security Hub findings.
"""

from __future__ import annotations

from typing import Any

from mamori.posture.collectors.aws_calls import Answer, Calls, Failure, digests, get, tag_dict

SECURITY_HUB_LIMIT = 1000  # findings per region: a bounded sample, newest first
_TLS_LISTENERS = ("HTTPS", "TLS")
_TLS_ORDER = ("SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def collect_edge(calls: Calls, region: str) -> list[str]:
    """Every edge and monitoring type of `region`; returns the trails' S3 buckets."""
    alarms(calls, region)
    load_balancers(calls, region)
    api_stages(calls, region)
    guardduty(calls, region)
    buckets = trails(calls, region)
    config_rules(calls, region)
    security_hub(calls, region)
    return buckets


def alarms(calls: Calls, region: str) -> None:
    """CloudWatch metric alarms."""
    listing = calls.pages(region, "cloudwatch", "describe_alarms")
    if isinstance(listing, Failure):
        return
    for alarm in listing.body.get("MetricAlarms", []):
        name = str(alarm["AlarmName"])
        rid = str(alarm.get("AlarmArn") or calls.arn("cloudwatch", region, f"alarm:{name}"))
        properties = {
            "metric_name": alarm.get("MetricName"),
            "namespace": alarm.get("Namespace"),
            "actions_enabled": bool(alarm.get("ActionsEnabled")),
        }
        calls.add(region, "aws.cloudwatch.alarm", rid, name, {}, properties, (listing.digest,))


def load_balancers(calls: Calls, region: str) -> None:
    """ELBv2 load balancers with listeners' TLS floor and the WAF web ACL."""
    listing = calls.pages(region, "elbv2", "describe_load_balancers")
    if isinstance(listing, Failure):
        return
    found = listing.body.get("LoadBalancers", [])
    if not found:
        return
    policies = calls.pages(region, "elbv2", "describe_ssl_policies")
    floors = _tls_floors(policies)
    tags = _elb_tags(calls, region, [str(lb["LoadBalancerArn"]) for lb in found])
    for lb in found:
        arn = str(lb["LoadBalancerArn"])
        listeners, raw = _listeners(calls, region, arn, floors)
        acl: Any = None
        if lb.get("Type") == "application":
            answer = calls.call(
                region, "wafv2", "get_web_acl_for_resource", resource=arn, ResourceArn=arn
            )
            acl = (
                answer.unknown()
                if isinstance(answer, Failure)
                else get(answer.body, "WebACL", "ARN")
            )
            raw += digests(answer)
        properties = {
            "kind": lb.get("Type"),
            "scheme": lb.get("Scheme"),
            "listeners": listeners,
            "web_acl": acl,
            "vpc_id": lb.get("VpcId"),
            "security_groups": list(lb.get("SecurityGroups") or []),
        }
        name = str(lb.get("LoadBalancerName") or arn)
        raw = digests(listing, policies) + raw
        calls.add(region, "aws.elbv2.load_balancer", arn, name, tags.get(arn, {}), properties, raw)


def _tls_floors(policies: Answer | Failure) -> dict[str, str] | None:
    if isinstance(policies, Failure):
        return None
    floors = {}
    for policy in policies.body.get("SslPolicies", []):
        known = [p for p in policy.get("SslProtocols") or [] if p in _TLS_ORDER]
        if known:
            floors[str(policy["Name"])] = min(known, key=_TLS_ORDER.index)
    return floors


def _listeners(
    calls: Calls, region: str, arn: str, floors: dict[str, str] | None
) -> tuple[Any, tuple[str, ...]]:
    answer = calls.pages(region, "elbv2", "describe_listeners", resource=arn, LoadBalancerArn=arn)
    if isinstance(answer, Failure):
        return answer.unknown(), ()
    found = []
    for listener in answer.body.get("Listeners", []):
        # only TLS listeners have a policy (some emulators report a default on HTTP too)
        policy = listener.get("SslPolicy") if listener.get("Protocol") in _TLS_LISTENERS else None
        floor: Any = None
        if policy:
            floor = floors.get(str(policy)) if floors is not None else None
        found.append(
            {
                "port": listener.get("Port"),
                "protocol": listener.get("Protocol"),
                "ssl_policy": policy,
                "min_tls": floor,
            }
        )
    return found, (answer.digest,)


def _elb_tags(calls: Calls, region: str, arns: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
        answer = calls.call(region, "elbv2", "describe_tags", ResourceArns=arns[start : start + 20])
        if isinstance(answer, Answer):
            for entry in answer.body.get("TagDescriptions", []):
                found[str(entry["ResourceArn"])] = tag_dict(entry.get("Tags"))
    return found


def api_stages(calls: Calls, region: str) -> None:
    """API Gateway REST API stages with endpoint type and web ACL."""
    listing = calls.pages(region, "apigateway", "get_rest_apis")
    if isinstance(listing, Failure):
        return
    for api in listing.body.get("items", []):
        api_id = str(api["id"])
        api_arn = f"arn:aws:apigateway:{region}::/restapis/{api_id}"
        stages = calls.call(region, "apigateway", "get_stages", resource=api_arn, restApiId=api_id)
        if isinstance(stages, Failure):
            continue
        endpoint = (get(api, "endpointConfiguration", "types") or ["EDGE"])[0]
        for stage in stages.body.get("item", []):
            name = str(stage["stageName"])
            properties = {
                "api_id": api_id,
                "web_acl": stage.get("webAclArn"),
                "endpoint_type": endpoint,
            }
            rid = f"{api_arn}/stages/{name}"
            tags = tag_dict(stage.get("tags") or api.get("tags") or {})
            raw = digests(listing, stages)
            calls.add(
                region,
                "aws.apigateway.stage",
                rid,
                f"{api.get('name')}/{name}",
                tags,
                properties,
                raw,
            )


def guardduty(calls: Calls, region: str) -> None:
    """GuardDuty detectors: enabled, and whether EBS malware protection is on."""
    listing = calls.pages(region, "guardduty", "list_detectors")
    if isinstance(listing, Failure):
        return
    for did in listing.body.get("DetectorIds", []):
        rid = calls.arn("guardduty", region, f"detector/{did}")
        detector = calls.call(region, "guardduty", "get_detector", resource=rid, DetectorId=did)
        if isinstance(detector, Failure):
            properties: dict[str, Any] = {
                "enabled": detector.unknown(),
                "malware_protection": detector.unknown(),
            }
            tags: dict[str, str] = {}
        else:
            properties = {
                "enabled": detector.body.get("Status") == "ENABLED",
                "malware_protection": _malware_protection(detector.body),
            }
            tags = tag_dict(detector.body.get("Tags"))
        calls.add(
            region,
            "aws.guardduty.detector",
            rid,
            str(did),
            tags,
            properties,
            digests(listing, detector),
        )


def _malware_protection(body: dict[str, Any]) -> bool:
    for feature in body.get("Features") or []:
        if feature.get("Name") == "EBS_MALWARE_PROTECTION":
            return feature.get("Status") == "ENABLED"
    ebs = get(body, "DataSources", "MalwareProtection", "ScanEc2InstanceWithFindings", "EbsVolumes")
    return get(ebs, "Status") == "ENABLED"


def trails(calls: Calls, region: str) -> list[str]:
    """CloudTrail trails whose home is `region`; returns their S3 buckets."""
    listing = calls.call(region, "cloudtrail", "describe_trails", includeShadowTrails=False)
    if isinstance(listing, Failure):
        return []
    buckets = []
    for trail in listing.body.get("trailList", []):
        arn = str(trail["TrailARN"])
        status = calls.call(region, "cloudtrail", "get_trail_status", resource=arn, Name=arn)
        tagged = calls.call(region, "cloudtrail", "list_tags", resource=arn, ResourceIdList=[arn])
        properties = {
            "multi_region": bool(trail.get("IsMultiRegionTrail")),
            "log_file_validation": bool(trail.get("LogFileValidationEnabled")),
            "logging": status.unknown()
            if isinstance(status, Failure)
            else bool(status.body.get("IsLogging")),
            "s3_bucket": trail.get("S3BucketName"),
            "home_region": trail.get("HomeRegion") or region,
        }
        tags: dict[str, str] = {}
        if isinstance(tagged, Answer):
            for entry in tagged.body.get("ResourceTagList", []):
                tags.update(tag_dict(entry.get("TagsList")))
        if trail.get("S3BucketName"):
            buckets.append(str(trail["S3BucketName"]))
        raw = digests(listing, status, tagged)
        calls.add(
            region, "aws.cloudtrail.trail", arn, str(trail.get("Name")), tags, properties, raw
        )
    return buckets


def config_rules(calls: Calls, region: str) -> None:
    """AWS Config rules with their compliance (a native attestation)."""
    listing = calls.pages(region, "config", "describe_config_rules")
    if isinstance(listing, Failure):
        return
    rules = listing.body.get("ConfigRules", [])
    if not rules:
        return
    compliance = calls.pages(region, "config", "describe_compliance_by_config_rule")
    verdicts: dict[str, Any] = {}
    if isinstance(compliance, Answer):
        for entry in compliance.body.get("ComplianceByConfigRules", []):
            verdicts[str(entry.get("ConfigRuleName"))] = get(entry, "Compliance", "ComplianceType")
    for rule in rules:
        name = str(rule["ConfigRuleName"])
        rid = str(rule.get("ConfigRuleArn") or calls.arn("config", region, f"config-rule/{name}"))
        verdict = (
            compliance.unknown()
            if isinstance(compliance, Failure)
            else verdicts.get(name, "INSUFFICIENT_DATA")
        )
        raw = digests(listing, compliance)
        calls.add(region, "aws.config.rule", rid, name, {}, {"compliance": verdict}, raw)


def security_hub(calls: Calls, region: str) -> None:
    """Active Security Hub findings (at most `SECURITY_HUB_LIMIT`), a native attestation."""
    listing = calls.pages(
        region,
        "securityhub",
        "get_findings",
        limit=SECURITY_HUB_LIMIT,
        Filters={"RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]},
    )
    if isinstance(listing, Failure):
        return
    for finding in listing.body.get("Findings", []):
        fields = finding.get("ProductFields") or {}
        standards = get(finding, "Compliance", "AssociatedStandards") or [{}]
        properties = {
            "title": finding.get("Title"),
            "standard": standards[0].get("StandardsId")
            or fields.get("StandardsArn")
            or fields.get("StandardsGuideArn"),
            "control_id": get(finding, "Compliance", "SecurityControlId")
            or fields.get("ControlId"),
            "compliance": get(finding, "Compliance", "Status"),
            "severity": get(finding, "Severity", "Label"),
            "resource_ids": [r.get("Id") for r in finding.get("Resources") or []],
        }
        rid = str(finding["Id"])
        kind = "aws.securityhub.finding"
        calls.add(
            region, kind, rid, str(finding.get("Title") or rid), {}, properties, (listing.digest,)
        )
