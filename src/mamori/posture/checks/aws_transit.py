"""AWS encryption in transit (commitment 9, cryptography-policy).

S3 buckets deny requests that do not use TLS; internet-facing load balancers do not
listen in plain HTTP and their TLS listeners accept nothing older than
`minimum_tls_version`; CloudFront never lets viewers or origins talk plain HTTP and its
minimum protocol version meets the same floor.

A plain-HTTP listener on an internet-facing load balancer fails even when all it does is
redirect to HTTPS: the normalised schema does not say what a listener's default action
is, so a redirect cannot be told apart from a listener serving content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import aws_resources, unknown_result, unread
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    minimum_tls,
    posture_check,
    result,
    tls_version,
)

CRYPTO = ("cryptography-policy",)
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})


def protocol_version(text: str | None) -> tuple[int, int] | None:
    """The TLS version of a policy name, with AWS's `_2016`-style year suffixes removed.

    `TLSv1_2016` is TLS 1.0 (the year must not be read as a minor version); SSLv3 is
    (0, 3), older than any TLS.
    """
    if not text:
        return None
    cleaned = re.sub(r"_(19|20)\d\d$", "", str(text).strip())
    if cleaned.upper().startswith("SSL"):
        return (0, 3)
    return tls_version(cleaned)


def _version_text(version: tuple[int, int]) -> str:
    return f"TLS {version[0]}.{version[1]}" if version[0] else "SSL 3"


@posture_check(
    id="aws_s3_secure_transport",
    title=LText(
        ja="S3 バケットが TLS を使わないアクセスを拒否している",
        en="S3 buckets refuse requests that do not use TLS",
    ),
    rationale=LText(
        ja="バケットポリシーで aws:SecureTransport が false の要求を拒否しない限り、"
        "暗号化されない HTTP でもデータを読み書きできてしまいます。",
        en="Unless the bucket policy denies requests where aws:SecureTransport is false, data "
        "can be read and written over unencrypted HTTP.",
    ),
    remediation=LText(
        ja="aws:SecureTransport が false の要求をすべて拒否する Deny 文をバケットポリシーに"
        "追加してください。",
        en="Add a Deny statement for every request with aws:SecureTransport false to the "
        "bucket policy.",
    ),
    severity=Severity.MEDIUM,
    commitments=CRYPTO,
    types=("aws.s3.bucket",),
)
def s3_secure_transport(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per bucket: the policy denies non-TLS requests."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for bucket in aws_resources(facts.snapshot, "aws.s3.bucket"):
        missing = unread(bucket, "secure_transport_denied")
        if missing:
            yield unknown_result(facts, bucket, missing)
        elif bucket.properties["secure_transport_denied"] is True:
            yield result(facts, PASS, bucket, N_("The bucket policy denies requests without TLS."))
        else:
            yield result(
                facts, FAIL, bucket, N_("The bucket policy does not deny requests without TLS.")
            )


@posture_check(
    id="aws_load_balancer_listeners_tls",
    title=LText(
        ja="ロードバランサーが平文 HTTP を公開せず、十分な TLS バージョンを使っている",
        en="Load balancers expose no plain HTTP and use a sufficient TLS version",
    ),
    rationale=LText(
        ja="インターネットに面した HTTP リスナーでは通信が暗号化されず、"
        "古い TLS は既知の弱点を突かれるおそれがあります。",
        en="An internet-facing HTTP listener carries traffic unencrypted, and old TLS "
        "versions have known weaknesses.",
    ),
    remediation=LText(
        ja="HTTP リスナーを削除して HTTPS に一本化し、最小バージョンが約束を満たす"
        "セキュリティポリシー（例: ELBSecurityPolicy-TLS13-1-2-2021-06）を設定してください。",
        en="Remove the HTTP listener in favour of HTTPS, and choose a security policy whose "
        "minimum version meets the commitment (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06).",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.elbv2.load_balancer",),
)
def load_balancer_listeners_tls(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per load balancer: no internet-facing HTTP listener; TLS listeners meet the minimum."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    minimum = minimum_tls(context)
    floor = _version_text(minimum)
    for balancer in aws_resources(facts.snapshot, "aws.elbv2.load_balancer"):
        missing = unread(balancer, "listeners", "scheme")
        if missing:
            yield unknown_result(facts, balancer, missing)
            continue
        public = balancer.properties["scheme"] == "internet-facing"
        plain, weak, unsure = [], [], []
        for listener in balancer.properties["listeners"] or ():
            protocol = str(listener.get("protocol", "")).upper()
            name = f"{protocol}:{listener.get('port')}"
            if protocol == "HTTP" and public:
                plain.append(name)
            elif protocol in TLS_PROTOCOLS:
                version = protocol_version(listener.get("min_tls"))
                if version is None:
                    policy = listener.get("ssl_policy") or "-"
                    unsure.append(f"{name} ({policy})")
                elif version < minimum:
                    weak.append(f"{name} ({_version_text(version)})")
        if plain:
            yield result(
                facts,
                FAIL,
                balancer,
                N_("Plain-HTTP listeners reachable from the internet: %(listeners)s."),
                {"listeners": ", ".join(plain)},
            )
        if weak:
            yield result(
                facts,
                FAIL,
                balancer,
                N_("Listeners accept TLS older than %(minimum)s: %(listeners)s."),
                {"listeners": ", ".join(weak), "minimum": floor},
            )
        if plain or weak:
            continue
        if unsure:
            yield result(
                facts,
                UNKNOWN,
                balancer,
                N_("The minimum TLS version of these listeners is not known: %(listeners)s."),
                {"listeners": ", ".join(unsure)},
            )
        else:
            yield result(
                facts,
                PASS,
                balancer,
                N_("No plain HTTP from the internet; TLS listeners require %(minimum)s or later."),
                {"minimum": floor},
            )


@posture_check(
    id="aws_cloudfront_tls",
    title=LText(
        ja="CloudFront が閲覧者とオリジンの両方で TLS を強制している",
        en="CloudFront enforces TLS towards viewers and origins",
    ),
    rationale=LText(
        ja="ビューワーに HTTP を許すと利用者との通信が、オリジンに HTTP のみを使うと"
        "配信元との通信が暗号化されません。古い最小プロトコルも弱点になります。",
        en="Allowing HTTP to viewers leaves users' traffic unencrypted, HTTP-only origins "
        "leave the back end unencrypted, and an old minimum protocol is a weakness.",
    ),
    remediation=LText(
        ja="ビューワープロトコルポリシーを redirect-to-https か https-only に、"
        "オリジンを https-only にし、最小プロトコルバージョンを約束以上に設定してください。",
        en="Set viewer protocol policies to redirect-to-https or https-only, origins to "
        "https-only, and the minimum protocol version to at least the commitment's.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.cloudfront.distribution",),
)
def cloudfront_tls(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per distribution: no allow-all viewer policy, no http-only origin, minimum version."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    minimum = minimum_tls(context)
    floor = _version_text(minimum)
    for distribution in aws_resources(facts.snapshot, "aws.cloudfront.distribution"):
        missing = unread(
            distribution,
            "viewer_protocol_policies",
            "origin_protocol_policies",
            "minimum_protocol_version",
        )
        if missing:
            yield unknown_result(facts, distribution, missing)
            continue
        properties = distribution.properties
        failed = False
        if "allow-all" in (properties["viewer_protocol_policies"] or ()):
            failed = True
            yield result(
                facts, FAIL, distribution, N_("A cache behaviour lets viewers use plain HTTP.")
            )
        if "http-only" in (properties["origin_protocol_policies"] or ()):
            failed = True
            yield result(
                facts, FAIL, distribution, N_("An origin is reached over plain HTTP only.")
            )
        text = properties["minimum_protocol_version"]
        version = protocol_version(text)
        if version is None:
            yield result(
                facts,
                UNKNOWN,
                distribution,
                N_("The minimum protocol version %(version)s is not understood."),
                {"version": str(text)},
            )
            continue
        if version < minimum:
            yield result(
                facts,
                FAIL,
                distribution,
                N_("The minimum protocol version %(version)s is older than %(minimum)s."),
                {"version": str(text), "minimum": floor},
            )
        elif not failed:
            yield result(
                facts,
                PASS,
                distribution,
                N_("HTTPS towards viewers and origins; minimum protocol %(version)s."),
                {"version": str(text)},
            )
