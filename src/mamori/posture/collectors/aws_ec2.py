"""EC2 in one region: settings, instances, volumes, snapshots, networks and their links."""

from __future__ import annotations

from typing import Any

from mamori.posture.collectors.aws_calls import Answer, Calls, Failure, digests, tag_dict

_PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmp"}


def collect_ec2(calls: Calls, region: str) -> None:
    """Every EC2 resource type of `region`."""
    region_settings(calls, region)
    instances(calls, region)
    volumes(calls, region)
    snapshots(calls, region)
    security_groups(calls, region)
    vpcs(calls, region)
    subnets(calls, region)
    peerings(calls, region)
    transit_gateway_attachments(calls, region)


def region_settings(calls: Calls, region: str) -> None:
    """The region's EBS encryption-by-default settings."""
    # Settings of one resource (the region's): a failure leaves that resource unknown,
    # not every EC2 check in the region.
    rid = calls.arn("ec2", region, "region-settings")
    default = calls.call(region, "ec2", "get_ebs_encryption_by_default", resource=rid)
    key = calls.call(region, "ec2", "get_ebs_default_kms_key_id", resource=rid)
    properties = {
        "ebs_encryption_by_default": _value(default, "EbsEncryptionByDefault", bool),
        "ebs_default_kms_key": _value(key, "KmsKeyId", str),
    }
    calls.add(region, "aws.ec2.region_settings", rid, region, {}, properties, digests(default, key))


def _value(answer: Answer | Failure, name: str, kind: type) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    value = answer.body.get(name)
    return None if value is None else kind(value)


def instances(calls: Calls, region: str) -> None:
    """EC2 instances, with whether Systems Manager manages their patches."""
    listing = calls.pages(region, "ec2", "describe_instances")
    if isinstance(listing, Failure):
        return
    found = [i for r in listing.body.get("Reservations", []) for i in r.get("Instances", [])]
    if not found:
        return
    ssm = calls.pages(region, "ssm", "describe_instance_information")
    online: set[str] = set()
    if isinstance(ssm, Answer):
        online = {
            str(info.get("InstanceId"))
            for info in ssm.body.get("InstanceInformationList", [])
            if info.get("PingStatus") == "Online"
        }
    for instance in found:
        iid = str(instance["InstanceId"])
        properties = {
            "state": (instance.get("State") or {}).get("Name"),
            "image_id": instance.get("ImageId"),
            "imds_v2_required": (instance.get("MetadataOptions") or {}).get("HttpTokens")
            == "required",
            "vpc_id": instance.get("VpcId"),
            "subnet_id": instance.get("SubnetId"),
            "security_groups": [g["GroupId"] for g in instance.get("SecurityGroups", [])],
            "public_ip": instance.get("PublicIpAddress"),
            "patch_managed": ssm.unknown() if isinstance(ssm, Failure) else iid in online,
            "launch_time": instance.get("LaunchTime"),
        }
        tags = tag_dict(instance.get("Tags"))
        rid = calls.arn("ec2", region, f"instance/{iid}")
        name = tags.get("Name", iid)
        calls.add(region, "aws.ec2.instance", rid, name, tags, properties, digests(listing, ssm))


def volumes(calls: Calls, region: str) -> None:
    """EBS volumes."""
    listing = calls.pages(region, "ec2", "describe_volumes")
    if isinstance(listing, Failure):
        return
    for volume in listing.body.get("Volumes", []):
        vid = str(volume["VolumeId"])
        properties = {
            "encrypted": bool(volume.get("Encrypted")),
            "kms_key": volume.get("KmsKeyId"),
            "attached_to": [a["InstanceId"] for a in volume.get("Attachments", [])],
        }
        tags = tag_dict(volume.get("Tags"))
        rid = calls.arn("ec2", region, f"volume/{vid}")
        calls.add(region, "aws.ec2.volume", rid, vid, tags, properties, (listing.digest,))


def snapshots(calls: Calls, region: str) -> None:
    """EBS snapshots the account owns (not public or shared ones)."""
    # the owner-id filter repeats "self" because some EC2 emulations ignore OwnerIds
    mine = [{"Name": "owner-id", "Values": [calls.account]}]
    listing = calls.pages(region, "ec2", "describe_snapshots", OwnerIds=["self"], Filters=mine)
    if isinstance(listing, Failure):
        return
    for snapshot in listing.body.get("Snapshots", []):
        sid = str(snapshot["SnapshotId"])
        properties = {
            "encrypted": bool(snapshot.get("Encrypted")),
            "volume_id": snapshot.get("VolumeId"),
            "started_at": snapshot.get("StartTime"),
            "state": snapshot.get("State"),
        }
        tags = tag_dict(snapshot.get("Tags"))
        rid = calls.arn("ec2", region, f"snapshot/{sid}")
        calls.add(region, "aws.ec2.snapshot", rid, sid, tags, properties, (listing.digest,))


def security_groups(calls: Calls, region: str) -> None:
    """Security groups with their rules in the shared `RULE` shape."""
    listing = calls.pages(region, "ec2", "describe_security_groups")
    if isinstance(listing, Failure):
        return
    for group in listing.body.get("SecurityGroups", []):
        gid = str(group["GroupId"])
        rules = [rule(p, "inbound") for p in group.get("IpPermissions", [])]
        rules += [rule(p, "outbound") for p in group.get("IpPermissionsEgress", [])]
        properties = {
            "vpc_id": group.get("VpcId"),
            "group_name": group.get("GroupName"),
            "rules": rules,
        }
        tags = tag_dict(group.get("Tags"))
        rid = calls.arn("ec2", region, f"security-group/{gid}")
        name = str(group.get("GroupName") or gid)
        calls.add(region, "aws.ec2.security_group", rid, name, tags, properties, (listing.digest,))


def rule(permission: dict[str, Any], direction: str) -> dict[str, Any]:
    """One EC2 IP permission as a normalised rule (security groups only allow)."""
    protocol = str(permission.get("IpProtocol", "-1"))
    protocol = _PROTOCOLS.get(protocol, protocol)
    every_port = protocol == "all" or permission.get("FromPort") in (None, -1)
    sources = [r["CidrIp"] for r in permission.get("IpRanges", [])]
    sources += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
    sources += [p["PrefixListId"] for p in permission.get("PrefixListIds", [])]
    groups = [
        {"group_id": pair.get("GroupId"), "account": pair.get("UserId")}
        for pair in permission.get("UserIdGroupPairs", [])
    ]
    return {
        "direction": direction,
        "action": "allow",
        "protocol": protocol,
        "from_port": None if every_port else permission.get("FromPort"),
        "to_port": None if every_port else permission.get("ToPort"),
        "sources": sources,
        "source_groups": groups,
        "priority": None,
    }


def vpcs(calls: Calls, region: str) -> None:
    """VPCs."""
    listing = calls.pages(region, "ec2", "describe_vpcs")
    if isinstance(listing, Failure):
        return
    for vpc in listing.body.get("Vpcs", []):
        vid = str(vpc["VpcId"])
        properties = {"cidr": vpc.get("CidrBlock"), "is_default": bool(vpc.get("IsDefault"))}
        tags = tag_dict(vpc.get("Tags"))
        rid = calls.arn("ec2", region, f"vpc/{vid}")
        calls.add(
            region, "aws.ec2.vpc", rid, tags.get("Name", vid), tags, properties, (listing.digest,)
        )


def subnets(calls: Calls, region: str) -> None:
    """Subnets."""
    listing = calls.pages(region, "ec2", "describe_subnets")
    if isinstance(listing, Failure):
        return
    for subnet in listing.body.get("Subnets", []):
        sid = str(subnet["SubnetId"])
        properties = {"vpc_id": subnet.get("VpcId"), "cidr": subnet.get("CidrBlock")}
        tags = tag_dict(subnet.get("Tags"))
        rid = str(subnet.get("SubnetArn") or calls.arn("ec2", region, f"subnet/{sid}"))
        calls.add(region, "aws.ec2.subnet", rid, sid, tags, properties, (listing.digest,))


def peerings(calls: Calls, region: str) -> None:
    """VPC peering connections, with both sides' account, VPC and region."""
    listing = calls.pages(region, "ec2", "describe_vpc_peering_connections")
    if isinstance(listing, Failure):
        return
    for peering in listing.body.get("VpcPeeringConnections", []):
        pid = str(peering["VpcPeeringConnectionId"])
        properties = {
            "requester": _side(peering.get("RequesterVpcInfo") or {}),
            "accepter": _side(peering.get("AccepterVpcInfo") or {}),
            "status": (peering.get("Status") or {}).get("Code"),
        }
        tags = tag_dict(peering.get("Tags"))
        rid = calls.arn("ec2", region, f"vpc-peering-connection/{pid}")
        calls.add(region, "aws.ec2.vpc_peering", rid, pid, tags, properties, (listing.digest,))


def _side(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": info.get("OwnerId"),
        "vpc_id": info.get("VpcId"),
        "region": info.get("Region"),
    }


def transit_gateway_attachments(calls: Calls, region: str) -> None:
    """Transit gateway attachments, with the gateway's and the resource's owners."""
    listing = calls.pages(region, "ec2", "describe_transit_gateway_attachments")
    if isinstance(listing, Failure):
        return
    for attachment in listing.body.get("TransitGatewayAttachments", []):
        aid = str(attachment["TransitGatewayAttachmentId"])
        properties = {
            "transit_gateway_id": attachment.get("TransitGatewayId"),
            "transit_gateway_owner": attachment.get("TransitGatewayOwnerId"),
            "resource_owner": attachment.get("ResourceOwnerId"),
            "resource_type": attachment.get("ResourceType"),
            "resource_id": attachment.get("ResourceId"),
            "state": attachment.get("State"),
        }
        tags = tag_dict(attachment.get("Tags"))
        rid = calls.arn("ec2", region, f"transit-gateway-attachment/{aid}")
        kind = "aws.ec2.transit_gateway_attachment"
        calls.add(region, kind, rid, aid, tags, properties, (listing.digest,))
