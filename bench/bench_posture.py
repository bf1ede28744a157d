"""Benchmark cloud posture: evaluate a generated snapshot, and collect a moto-backed account.

Prints `<name>: <value> <unit>` lines; see docs/benchmarks.md for what each figure means.
Run with `make bench-posture` or `uv run python bench/bench_posture.py --help`.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, emit_ratio, make_parser, note, positive_int, scratch_dir
from mamori.posture.snapshot import RawResponse, Resource, Snapshot, write_snapshot

DEFAULT_RESOURCES = 100_000  # the size: small enough to be the default
DEFAULT_COLLECT = 300  # resources in the moto-backed account, over two regions
FULL_COLLECT = 2_000  # the size; moto alone takes minutes to create them
EVALUATE_TARGET_SECONDS = 3.0
EVALUATE_RSS_TARGET_MB = 500
TENANTS = ("midori-city-boe", "sakura-town-boe", "aoba-gakuen", "kita-school")
SERVICES = ("total-id", "my-assess", "tabudori-live", "manabi-portal")
AWS_REGIONS = ("ap-northeast-1", "ap-northeast-3")
AZURE_REGIONS = ("japaneast", "japanwest")
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

# Shares of the generated resources by type (the rest of the types get a few each).
MIX = {
    "aws.ec2.instance": 16,
    "aws.ec2.volume": 18,
    "aws.ec2.snapshot": 14,
    "aws.ec2.security_group": 8,
    "aws.s3.bucket": 6,
    "aws.logs.log_group": 8,
    "aws.rds.instance": 2,
    "aws.rds.snapshot": 3,
    "aws.backup.recovery_point": 8,
    "aws.ec2.subnet": 3,
    "azure.compute.vm": 4,
    "azure.compute.disk": 5,
    "azure.storage.account": 2,
    "azure.network.nsg": 2,
    "azure.recoveryservices.backup_item": 1,
}


def _rule(rng: random.Random) -> dict[str, Any]:
    port = rng.choice((22, 80, 443, 3389, 5432, 8080))
    open_world = rng.random() < 0.05
    return {
        "direction": "inbound",
        "action": "allow",
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "sources": ["0.0.0.0/0"] if open_world else ["10.0.0.0/16"],
        "source_groups": [],
        "priority": None,
    }


def _properties(kind: str, number: int, rng: random.Random) -> dict[str, Any]:
    """Plausible properties of `kind`, about 5% of them out of policy."""
    bad = rng.random() < 0.05
    age = timedelta(days=rng.randint(0, 3) if not bad else rng.randint(8, 40))
    stamp = (NOW - age).isoformat().replace("+00:00", "Z")
    if kind == "aws.ec2.instance":
        return {
            "state": "running",
            "image_id": f"ami-{number % 7:08x}",
            "imds_v2_required": not bad,
            "vpc_id": f"vpc-{number % 40}",
            "subnet_id": f"subnet-{number % 120}",
            "security_groups": [f"sg-{number % 800}"],
            "public_ip": None,
            "patch_managed": not bad,
            "launch_time": stamp,
        }
    if kind == "aws.ec2.volume":
        return {"encrypted": not bad, "kms_key": None, "attached_to": [f"i-{number}"]}
    if kind == "aws.ec2.snapshot":
        return {
            "encrypted": not bad,
            "volume_id": f"vol-{number}",
            "started_at": stamp,
            "state": "completed",
        }
    if kind == "aws.ec2.security_group":
        return {
            "vpc_id": f"vpc-{number % 40}",
            "group_name": f"sg{number}",
            "rules": [_rule(rng) for _ in range(3)],
        }
    if kind == "aws.s3.bucket":
        return {
            "encryption": None if bad else {"algorithm": "aws:kms", "kms_key": "k"},
            "policy": None,
            "secure_transport_denied": not bad,
            "cross_account_principals": [],
            "public_access_blocked": True,
            "versioning": "Enabled",
            "mfa_delete": False,
            "object_lock": False,
            "lifecycle": [],
            "replication_destinations": [],
            "log_bucket": False,
        }
    if kind == "aws.logs.log_group":
        return {"retention_days": 30 if bad else 400, "kms_key": None, "metric_filters": []}
    if kind == "aws.rds.instance":
        return {
            "engine": "postgres",
            "encrypted": not bad,
            "kms_key": None,
            "backup_retention_days": 7,
            "latest_restorable_time": stamp,
            "replicas": [],
            "backup_replications": [],
            "publicly_accessible": False,
        }
    if kind == "aws.rds.snapshot":
        return {
            "encrypted": not bad,
            "source": f"db-{number % 50}",
            "created_at": stamp,
            "snapshot_type": "automated",
        }
    if kind == "aws.backup.recovery_point":
        return {
            "resource_arn": f"arn:aws:ec2:ap-northeast-1:1:volume/vol-{number}",
            "created_at": stamp,
            "status": "COMPLETED",
            "vault": "main",
        }
    if kind == "aws.ec2.subnet":
        return {"vpc_id": f"vpc-{number % 40}", "cidr": f"10.{number % 250}.0.0/24"}
    if kind == "azure.compute.vm":
        return {
            "image": {
                "publisher": "Canonical",
                "offer": "ubuntu-24_04-lts",
                "sku": "server",
                "version": "latest",
                "id": None,
            },
            "security_type": None if bad else "TrustedLaunch",
            "network_interfaces": [f"nic-{number}"],
            "patch_mode": "AutomaticByPlatform",
        }
    if kind == "azure.compute.disk":
        return {
            "encryption_type": None if bad else "EncryptionAtRestWithPlatformKey",
            "attached_to": f"vm-{number}",
        }
    if kind == "azure.storage.account":
        return {
            "sku": "Standard_GRS",
            "secondary_location": "japanwest",
            "https_only": not bad,
            "minimum_tls_version": "TLS1_2",
            "encryption_enabled": True,
            "public_blob_access": False,
            "blob_delete_retention_days": 7,
        }
    if kind == "azure.network.nsg":
        return {"rules": [_rule(rng) for _ in range(4)], "attached_to": [f"subnet-{number}"]}
    if kind == "azure.recoveryservices.backup_item":
        return {"source": f"vm-{number}", "last_backup_time": stamp, "vault": "vault-1"}
    return {}


def generate(count: int, seed: int) -> Snapshot:
    """A snapshot of `count` resources mixed as in MIX, attributed by tags."""
    rng = random.Random(seed)
    snapshot = Snapshot(collected_at=NOW)
    kinds = list(MIX)
    weights = [MIX[kind] for kind in kinds]
    for number in range(count):
        kind = rng.choices(kinds, weights)[0]
        provider = kind.split(".", 1)[0]
        region = rng.choice(AWS_REGIONS if provider == "aws" else AZURE_REGIONS)
        account = "111111111111" if provider == "aws" else "sub-0001"
        ident = f"{kind}/{number}"
        raw = RawResponse.of(provider, account, region, kind, "Describe", {"n": number})
        snapshot.add_raw(raw)
        tags = {
            "mamori:tenant": TENANTS[number % len(TENANTS)],
            "mamori:service": SERVICES[number % len(SERVICES)],
            "environment": "production",
        }
        properties = _properties(kind, number, rng)
        snapshot.add(
            Resource(
                provider,
                account,
                region,
                kind,
                ident,
                f"r{number}",
                tags,
                properties,
                (raw.digest,),
            )
        )
    snapshot.scope = {
        "aws": {"111111111111": list(AWS_REGIONS)},
        "azure": {"sub-0001": list(AZURE_REGIONS)},
    }
    return snapshot


def walk(snapshot: Snapshot) -> int:
    """Baseline: read every property of every resource once."""
    seen = 0
    for item in snapshot.resources:
        for value in item.properties.values():
            seen += value is not None
    return seen


def evaluate_file(path: Path) -> dict[str, float]:
    """Child phase: load the file, attribute, evaluate every posture check."""
    from mamori.commitments.catalog_loader import DEMO_CATALOG, read_catalog
    from mamori.commitments.registry import load_all_checks
    from mamori.posture.attribution import AttributionRules
    from mamori.posture.evaluation import commitments_of, evaluate_snapshot, facts_for
    from mamori.posture.snapshot import read_snapshot

    registry = load_all_checks()
    commitments = commitments_of(read_catalog(DEMO_CATALOG, registry))
    started = time.perf_counter()
    snapshot = read_snapshot(path)
    loaded = time.perf_counter()
    facts = facts_for(snapshot, AttributionRules())
    attributed = time.perf_counter()
    results = evaluate_snapshot(facts, registry, commitments)
    evaluated = time.perf_counter()
    walk_start = time.perf_counter()
    walk(snapshot)
    walked = time.perf_counter() - walk_start
    return {
        "load_wall": loaded - started,
        "attribute_wall": attributed - loaded,
        "evaluate_wall": evaluated - attributed,
        "walk_wall": walked,
        "results": len(results),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(phase: str, *args: str) -> dict[str, float]:
    """Run a phase in a fresh interpreter so its peak memory is its own."""
    output = subprocess.run(  # noqa: S603 - this same script, no outside input
        [sys.executable, __file__, "--phase", phase, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def collect_moto(count: int) -> dict[str, float]:
    """Child phase: build a moto account with `count` resources in two regions, collect it."""
    import boto3
    from moto import mock_aws

    from mamori.posture.collectors.aws import AwsAccount, AwsCollector
    from mamori.posture.collectors.base import collect

    with mock_aws():
        session = boto3.Session(region_name="ap-northeast-1")
        account = session.client("sts").get_caller_identity()["Account"]
        build_started = time.perf_counter()
        for number in range(count):
            region = AWS_REGIONS[number % 2]
            ec2 = session.client("ec2", region_name=region)
            if number % 4 == 0:
                ec2.create_security_group(GroupName=f"sg-{number}", Description="bench")
            elif number % 4 == 1:
                ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=number % 8 == 1)
            elif number % 4 == 2:
                logs = session.client("logs", region_name=region)
                logs.create_log_group(logGroupName=f"/bench/{number}")
            else:
                s3 = session.client("s3", region_name=region)
                s3.create_bucket(
                    Bucket=f"bench-{number}",
                    CreateBucketConfiguration={"LocationConstraint": region},
                )
        built = time.perf_counter()
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        collector = AwsCollector(
            [AwsAccount(account)],
            session_factory=lambda **kwargs: boto3.Session(**{**keys, **kwargs}),
        )
        snapshot = collect([collector])
        collected = time.perf_counter()
    return {
        "build_wall": built - build_started,
        "collect_wall": collected - built,
        "resources": len(snapshot.resources),
        "calls": len(snapshot.coverage),
        "failed_calls": sum(1 for entry in snapshot.coverage if not entry.ok),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--resources",
        type=positive_int,
        default=DEFAULT_RESOURCES,
        help=f"resources in the generated snapshot (default {DEFAULT_RESOURCES})",
    )
    parser.add_argument(
        "--collect",
        type=int,
        default=None,
        help=f"resources in the moto account (default {DEFAULT_COLLECT}; {FULL_COLLECT} with "
        "--full; 0 skips)",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated snapshot")
    parser.add_argument("--phase", help=argparse_hidden())
    parser.add_argument("args", nargs="*", help=argparse_hidden())
    options = parser.parse_args(argv)
    if options.phase == "evaluate":
        print(json.dumps(evaluate_file(Path(options.args[0]))))
        return 0
    if options.phase == "collect":
        print(json.dumps(collect_moto(int(options.args[0]))))
        return 0
    with scratch_dir("mamori-bench-posture-") as tmp:
        path = tmp / "snapshot.jsonl.gz"
        started = time.perf_counter()
        write_snapshot(generate(options.resources, options.seed), path)
        note(
            f"generated and wrote {options.resources} resources in "
            f"{time.perf_counter() - started:.1f} s ({path.stat().st_size // 1024} KiB)"
        )
        runs = [child("evaluate", str(path)) for _ in range(options.repeat)]
        runs.sort(key=lambda run: run["evaluate_wall"])
        median = runs[len(runs) // 2]
        emit("resources", options.resources)
        emit("results", int(median["results"]))
        emit("snapshot_load_wall", median["load_wall"], "s")
        emit("attribute_wall", median["attribute_wall"], "s")
        emit("evaluate_wall", median["evaluate_wall"], "s")
        emit("evaluate_wall_target", EVALUATE_TARGET_SECONDS, "s")
        emit("property_walk_wall", median["walk_wall"], "s")
        emit_ratio("evaluate_wall", median["evaluate_wall"], median["walk_wall"])
        emit("evaluate_peak_rss_mb", max(run["peak_rss_mb"] for run in runs), "MB", digits=0)
        emit("evaluate_peak_rss_mb_target", EVALUATE_RSS_TARGET_MB, "MB")
    count = (
        options.collect
        if options.collect is not None
        else (FULL_COLLECT if options.full else DEFAULT_COLLECT)
    )
    if count > 0:
        collected = child("collect", str(count))
        emit("collect_resources_created", count)
        emit("collect_moto_build_wall", collected["build_wall"], "s")
        emit("collect_resources", int(collected["resources"]))
        emit("collect_calls", int(collected["calls"]))
        emit("collect_failed_calls", int(collected["failed_calls"]))
        emit("collect_wall", collected["collect_wall"], "s")
        emit("collect_peak_rss_mb", collected["peak_rss_mb"], "MB", digits=0)
    return 0


def argparse_hidden() -> str:
    """Help text that hides an internal option."""
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
