"""Azure encryption in transit (commitment 9): HTTPS only and a minimum TLS version.

Parameters: `minimum_tls_version` ("1.2").
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    minimum_tls,
    posture_check,
    result,
    tls_version,
    unknown_property,
)
from mamori.posture.snapshot import Resource


def _transit(
    context: CheckContext, facts: PostureFacts, resource: Resource, https: str | None, tls: str
) -> Finding:
    """HTTPS-only (when `https` names the property) and TLS at least the minimum."""
    names = (https, tls) if https else (tls,)
    why = unknown_property(resource, *names)
    wanted = minimum_tls(context)
    version = resource.properties.get(tls)
    params = {"name": resource.name, "tls": str(version), "minimum": f"{wanted[0]}.{wanted[1]}"}
    if why:
        return result(
            facts,
            UNKNOWN,
            resource,
            N_("The transport settings of %(name)s could not be read: %(error)s"),
            {**params, "error": why},
        )
    if https and resource.properties.get(https) is not True:
        return result(facts, FAIL, resource, N_("%(name)s accepts plain HTTP."), params)
    actual = tls_version(str(version)) if version else None
    if actual is None or actual < wanted:
        return result(
            facts,
            FAIL,
            resource,
            N_("%(name)s accepts TLS below %(minimum)s (minimum set: %(tls)s)."),
            params,
        )
    return result(facts, PASS, resource, N_("%(name)s requires TLS %(tls)s or later."), params)


@posture_check(
    id="azure_storage_secure_transfer",
    title=LText(
        ja="ストレージ アカウントが HTTPS と最低 TLS を要求する",
        en="Storage accounts require HTTPS and a minimum TLS version",
    ),
    rationale=LText(
        ja="平文や古い TLS の通信は盗聴や改ざんを受けます。",
        en="Plain or old-TLS traffic can be read or altered.",
    ),
    remediation=LText(
        ja="「安全な転送が必須」を有効にし、最小 TLS バージョンを 1.2 以上にしてください。",
        en="Enable secure transfer required and set the minimum TLS version to 1.2 or later.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.storage.account",),
)
def storage_transit(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """HTTPS only and TLS at least `minimum_tls_version`."""
    for account in facts.resources("azure.storage.account"):
        yield _transit(context, facts, account, "https_only", "minimum_tls_version")


@posture_check(
    id="azure_web_https_tls",
    title=LText(
        ja="App Service が HTTPS と最低 TLS を要求する",
        en="App Service sites require HTTPS and a minimum TLS version",
    ),
    rationale=LText(
        ja="Web アプリへの通信は利用者のデータを運びます。",
        en="Traffic to web apps carries customer data.",
    ),
    remediation=LText(
        ja="「HTTPS のみ」を有効にし、最小 TLS バージョンを 1.2 以上にしてください。",
        en="Turn on HTTPS Only and set the minimum TLS version to 1.2 or later.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.web.site",),
)
def web_transit(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """HTTPS only and TLS at least `minimum_tls_version`."""
    for site in facts.resources("azure.web.site"):
        yield _transit(context, facts, site, "https_only", "min_tls_version")


@posture_check(
    id="azure_sql_minimum_tls",
    title=LText(
        ja="SQL サーバーが最低 TLS を要求する", en="SQL servers require a minimum TLS version"
    ),
    rationale=LText(
        ja="データベース接続は暗号化された最新の TLS で守る必要があります。",
        en="Database connections must be protected by current TLS.",
    ),
    remediation=LText(
        ja="SQL サーバーの最小 TLS バージョンを 1.2 以上に設定してください。",
        en="Set the SQL server's minimal TLS version to 1.2 or later.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.sql.server",),
)
def sql_transit(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Minimal TLS at least `minimum_tls_version` (unset allows any version: fail)."""
    for server in facts.resources("azure.sql.server"):
        yield _transit(context, facts, server, None, "minimal_tls_version")
