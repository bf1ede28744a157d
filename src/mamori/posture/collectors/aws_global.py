"""Global services, read once per account: IAM roles and CloudFront distributions."""

from __future__ import annotations

from typing import Any

from mamori.posture.collectors.aws_calls import Answer, Calls, Failure, digests, get, tag_dict
from mamori.posture.collectors.aws_policy import document, principal_accounts
from mamori.posture.snapshot import GLOBAL_REGION


def iam_roles(calls: Calls) -> None:
    """IAM roles with the other accounts their trust policy lets assume them."""
    listing = calls.pages(GLOBAL_REGION, "iam", "list_roles")
    if isinstance(listing, Failure):
        return
    for role in listing.body.get("Roles", []):
        arn, name = str(role["Arn"]), str(role["RoleName"])
        trust = document(role.get("AssumeRolePolicyDocument"))
        properties = {"trusted_accounts": principal_accounts(trust, calls.account)}
        tagged = calls.call(GLOBAL_REGION, "iam", "list_role_tags", resource=arn, RoleName=name)
        tags = tag_dict(tagged.body.get("Tags")) if isinstance(tagged, Answer) else {}
        raw = digests(listing, tagged)
        calls.add(GLOBAL_REGION, "aws.iam.role", arn, name, tags, properties, raw)


def cloudfront(calls: Calls) -> None:
    """CloudFront distributions: viewer and origin protocols, TLS floor, web ACL."""
    listing = calls.pages(GLOBAL_REGION, "cloudfront", "list_distributions")
    if isinstance(listing, Failure):
        return
    for dist in get(listing.body, "DistributionList", "Items") or []:
        arn = str(dist["ARN"])
        properties = _distribution(dist)
        tagged = calls.call(
            GLOBAL_REGION, "cloudfront", "list_tags_for_resource", resource=arn, Resource=arn
        )
        tags = tag_dict(get(tagged.body, "Tags", "Items")) if isinstance(tagged, Answer) else {}
        raw = digests(listing, tagged)
        kind = "aws.cloudfront.distribution"
        calls.add(GLOBAL_REGION, kind, arn, str(dist.get("Id")), tags, properties, raw)


def _distribution(dist: dict[str, Any]) -> dict[str, Any]:
    behaviours = [dist.get("DefaultCacheBehavior") or {}]
    behaviours += get(dist, "CacheBehaviors", "Items") or []
    origins = []
    for origin in get(dist, "Origins", "Items") or []:
        custom = origin.get("CustomOriginConfig")
        origins.append(custom.get("OriginProtocolPolicy") if custom else "s3")
    return {
        "viewer_protocol_policies": sorted(
            {str(b.get("ViewerProtocolPolicy")) for b in behaviours}
        ),
        "origin_protocol_policies": sorted(set(origins)),
        "minimum_protocol_version": get(dist, "ViewerCertificate", "MinimumProtocolVersion"),
        "web_acl": dist.get("WebACLId") or None,
    }
