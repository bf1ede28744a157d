"""AWS encryption-in-transit checks (commitment 9)."""

from __future__ import annotations

from typing import Any

from mamori.posture.checks.aws_transit import protocol_version
from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of, with_properties


def test_protocol_version_ignores_year_suffixes() -> None:
    assert protocol_version("TLSv1_2016") == (1, 0)
    assert protocol_version("TLSv1.1_2016") == (1, 1)
    assert protocol_version("TLSv1.2_2021") == (1, 2)
    assert protocol_version("SSLv3") == (0, 3)
    assert protocol_version("TLSv1.3") == (1, 3)
    assert protocol_version(None) is None


def test_s3_secure_transport() -> None:
    good = aws("s3.bucket", "good", secure_transport_denied=True)
    bad = aws("s3.bucket", "bad", secure_transport_denied=False)
    unread = aws("s3.bucket", "unread", secure_transport_denied=unknown("AccessDenied: no"))
    findings = run_check("aws_s3_secure_transport", snapshot_of([good, bad, unread]))
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]


def balancer(name: str, scheme: str, *listeners: dict[str, Any]) -> Resource:
    made = aws("elbv2.load_balancer", name, scheme=scheme, listeners=list(listeners))
    return with_properties(made, kind="application")


HTTPS_12 = {"port": 443, "protocol": "HTTPS", "ssl_policy": "p", "min_tls": "TLSv1.2"}
HTTPS_10 = {"port": 443, "protocol": "HTTPS", "ssl_policy": "old", "min_tls": "TLSv1"}
HTTP = {"port": 80, "protocol": "HTTP", "ssl_policy": None, "min_tls": None}


def test_load_balancer_listeners() -> None:
    good = balancer("good", "internet-facing", HTTPS_12)
    public_http = balancer("http", "internet-facing", HTTP, HTTPS_12)
    internal_http = balancer("internal", "internal", HTTP)
    weak = balancer("weak", "internet-facing", HTTPS_10)
    unsure = balancer(
        "unsure",
        "internet-facing",
        {"port": 443, "protocol": "HTTPS", "ssl_policy": "Custom", "min_tls": None},
    )
    unread = aws("elbv2.load_balancer", "unread", scheme="internal", listeners=unknown("x: y"))
    snapshot = snapshot_of([good, public_http, internal_http, weak, unsure, unread])
    findings = run_check("aws_load_balancer_listeners_tls", snapshot)
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, public_http) == ["fail"]
    assert statuses_of(findings, internal_http) == ["pass"]
    assert statuses_of(findings, weak) == ["fail"]
    assert statuses_of(findings, unsure) == ["unknown"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check(
        "aws_load_balancer_listeners_tls", snapshot, {"minimum_tls_version": "1.0"}
    )
    assert statuses_of(findings, weak) == ["pass"]
    findings = run_check(
        "aws_load_balancer_listeners_tls", snapshot, {"minimum_tls_version": "1.3"}
    )
    assert statuses_of(findings, good) == ["fail"]


def distribution(name: str, viewer: str, origin: str, version: Any) -> Resource:
    return aws(
        "cloudfront.distribution",
        name,
        region="global",
        viewer_protocol_policies=[viewer],
        origin_protocol_policies=[origin],
        minimum_protocol_version=version,
        web_acl=None,
    )


def test_cloudfront_tls() -> None:
    good = distribution("good", "redirect-to-https", "https-only", "TLSv1.2_2021")
    allow_all = distribution("allow", "allow-all", "https-only", "TLSv1.2_2021")
    http_origin = distribution("origin", "https-only", "http-only", "TLSv1.2_2021")
    old = distribution("old", "https-only", "https-only", "TLSv1_2016")
    unread = distribution("unread", "https-only", "https-only", unknown("AccessDenied: no"))
    snapshot = snapshot_of([good, allow_all, http_origin, old, unread])
    findings = run_check("aws_cloudfront_tls", snapshot)
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, allow_all) == ["fail"]
    assert statuses_of(findings, http_origin) == ["fail"]
    assert statuses_of(findings, old) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_cloudfront_tls", snapshot, {"minimum_tls_version": "1.0"})
    assert statuses_of(findings, old) == ["pass"]
