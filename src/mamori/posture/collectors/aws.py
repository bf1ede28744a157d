"""The AWS collector: every account, every region, every service the checks read.

Each account is reached through its base session or an STS assumed role. All regions are
enumerated (`DescribeRegions` with `AllRegions`), whatever the allowed regions are, so a
resource outside them is seen; regional services are read in each region the account
can use, global ones (IAM, CloudFront, the S3 bucket list) once. Calls run in a bounded
thread pool; botocore's adaptive retry mode backs off when AWS throttles.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from mamori.posture.collectors.aws_calls import PROVIDER, Calls, Failure
from mamori.posture.collectors.aws_data import collect_data
from mamori.posture.collectors.aws_ec2 import collect_ec2
from mamori.posture.collectors.aws_edge import collect_edge
from mamori.posture.collectors.aws_global import cloudfront, iam_roles
from mamori.posture.collectors.aws_s3 import collect_s3
from mamori.posture.collectors.base import Collector, SnapshotBuilder
from mamori.posture.snapshot import GLOBAL_REGION

DEFAULT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
SESSION_NAME = "mamori-posture"


@dataclass(frozen=True)
class AwsAccount:
    """An account to collect: its id, and the role to assume (None: the base session)."""

    account_id: str
    role_arn: str | None = None
    external_id: str | None = None


class AwsCollector(Collector):
    """Reads the configuration of one or more AWS accounts into a snapshot."""

    provider = PROVIDER

    def __init__(
        self,
        accounts: list[AwsAccount],
        session_factory: Callable[..., Any] = boto3.Session,
        max_workers: int = 8,
        config: Config | None = None,
    ) -> None:
        self.accounts = list(accounts)
        self.session_factory = session_factory
        self.max_workers = max_workers
        self.config = DEFAULT_CONFIG.merge(config) if config is not None else DEFAULT_CONFIG

    def collect(self, builder: SnapshotBuilder) -> None:
        """Add every account's resources, raw answers, coverage and regions to `builder`."""
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for account in self.accounts:
                session = self._session(builder, account)
                if session is not None:
                    self._collect_account(
                        Calls(builder, account.account_id, session, self.config), pool
                    )

    def _session(self, builder: SnapshotBuilder, account: AwsAccount) -> Any:
        base = self.session_factory()
        if account.role_arn is None:
            return base
        calls = Calls(builder, account.account_id, base, self.config)
        params: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": SESSION_NAME}
        if account.external_id is not None:
            params["ExternalId"] = account.external_id
        answer = calls.call(
            GLOBAL_REGION, "sts", "assume_role", account.role_arn, (), _without_secrets, **params
        )
        if isinstance(answer, Failure):
            return None
        credentials = answer.body["Credentials"]
        return self.session_factory(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def _collect_account(self, calls: Calls, pool: ThreadPoolExecutor) -> None:
        enabled = regions(calls)
        jobs: list[Future[Any]] = [pool.submit(collect_region, calls, r) for r in enabled]
        jobs += [pool.submit(iam_roles, calls), pool.submit(cloudfront, calls)]
        trail_buckets: list[str] = []
        for job in jobs:
            trail_buckets += job.result() or []
        collect_s3(calls, trail_buckets, pool.map)


def _without_secrets(body: Any) -> Any:
    # a snapshot is evidence that gets shared; temporary credentials must not be in it
    kept = dict(body)
    credentials = dict(kept.get("Credentials") or {})
    kept["Credentials"] = {"Expiration": credentials.get("Expiration")}
    return kept


def regions(calls: Calls) -> list[str]:
    """Enumerate every region, record them and the account; returns the enabled ones."""
    answer = calls.call(GLOBAL_REGION, "ec2", "describe_regions", AllRegions=True)
    if isinstance(answer, Failure):
        calls.builder.scope(PROVIDER, calls.account, [])
        return []
    found = answer.body.get("Regions", [])
    every = sorted(str(r["RegionName"]) for r in found)
    enabled = sorted(str(r["RegionName"]) for r in found if r.get("OptInStatus") != "not-opted-in")
    calls.builder.scope(PROVIDER, calls.account, every)
    properties = {"regions": every, "enabled_regions": enabled}
    rid = f"arn:aws:iam::{calls.account}:root"
    calls.add(GLOBAL_REGION, "aws.account", rid, calls.account, {}, properties, (answer.digest,))
    return enabled


def collect_region(calls: Calls, region: str) -> list[str]:
    """Every regional service of `region`; returns the S3 buckets its trails write to."""
    collect_ec2(calls, region)
    collect_data(calls, region)
    return collect_edge(calls, region)
