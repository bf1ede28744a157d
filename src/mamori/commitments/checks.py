"""Checks that need nothing but the provider's own records and the catalog."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from mamori.commitments.evaluation import Records
from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity, check
from mamori.core.i18n import N_
from mamori.core.text import LText

PASS, FAIL, ERROR = ResultStatus.PASS, ResultStatus.FAIL, ResultStatus.ERROR


def _records(context: CheckContext) -> Records:
    return cast(Records, context.records)


def _blank(text: LText | None) -> bool:
    return text is None or not text.ja.strip() or not text.en.strip()


def _blank_point(point: Mapping[str, Any], *needed: str) -> bool:
    name = point.get("name") or {}
    if not str(name.get("ja", "")).strip() or not str(name.get("en", "")).strip():
        return True
    return any(not str(point.get(key, "")).strip() for key in needed)


@check(
    id="commitment_has_owner_and_checks",
    title=LText(
        ja="各コミットメントに責任者とチェックが定められている",
        en="Every commitment has an owner and at least one check",
    ),
    rationale=LText(
        ja="責任者もチェックもない約束は、守られているかを誰も確かめられません。",
        en="A promise with no owner or no check is one nobody can show is being kept.",
    ),
    remediation=LText(
        ja="カタログの owner_role と checks を設定してください。",
        en="Set owner_role and checks for the commitment in the catalog.",
    ),
    severity=Severity.LOW,
)
def commitment_has_owner_and_checks(context: CheckContext) -> Iterator[Finding]:
    """One finding per commitment: owner set, and at least one registered check listed."""
    records = _records(context)
    for commitment in records.commitments:
        subject = f"commitment:{commitment.id}"
        check_ids = [link.check_id for link in commitment.checks]
        unknown = [c for c in check_ids if c not in records.check_ids]
        if not commitment.owner_role:
            yield Finding(FAIL, subject, N_("No owner role is set."))
        elif not check_ids:
            yield Finding(FAIL, subject, N_("No check evidences this commitment yet."))
        elif unknown:
            yield Finding(
                FAIL,
                subject,
                N_("Checks that are not registered: %(checks)s"),
                {"checks": ", ".join(unknown)},
            )
        else:
            yield Finding(
                PASS,
                subject,
                N_("Owner %(owner)s; %(count)s checks."),
                {"owner": commitment.owner_role, "count": len(check_ids)},
            )


@check(
    id="provider_profile_complete",
    title=LText(
        ja="事業者情報（所在地・準拠法・窓口・署名者）が揃っている",
        en="Provider profile is complete (address, law, desks, signatory)",
    ),
    rationale=LText(
        ja="所在地、準拠法、問合せ窓口とコールセンターはお客様に公表する事項です。",
        en="Location, governing law, the inquiry desk and call centre are published facts.",
    ),
    remediation=LText(
        ja="provider.yaml の空欄を日本語と英語の両方で埋めてください。",
        en="Fill every empty field of provider.yaml in both Japanese and English.",
    ),
    severity=Severity.MEDIUM,
    commitments=(
        "provider-location",
        "security-event-reporting",
        "applicable-law",
        "intellectual-property",
    ),
)
def provider_profile_complete(context: CheckContext) -> Iterator[Finding]:
    """The published parts of the provider profile are filled in both languages."""
    provider = _records(context).provider
    if provider is None:
        yield Finding(FAIL, "provider", N_("No provider profile is loaded."))
        return
    texts = {
        "name": provider.name,
        "head_office_address": provider.head_office_address,
        "governing_law": provider.governing_law,
        "signatory_title": provider.signatory_title,
        "signatory_name": provider.signatory_name,
        "policy_preamble": provider.policy_preamble,
    }
    missing = [field for field, text in texts.items() if _blank(text)]
    if _blank_point(provider.inquiry_desk or {}, "email"):
        missing.append("inquiry_desk")
    if _blank_point(provider.call_centre or {}, "phone"):
        missing.append("call_centre")
    if not provider.policy_statements:
        missing.append("basic_policy.statements")
    if missing:
        yield Finding(
            FAIL,
            "provider",
            N_("Missing or incomplete: %(fields)s"),
            {"fields": ", ".join(missing)},
            {"missing": missing},
        )
    else:
        yield Finding(PASS, "provider", N_("Every published field is filled in ja and en."))


@check(
    id="responsibility_matrix_complete",
    title=LText(
        ja="責任共有モデルの全項目に三者の分担が書かれている",
        en="Shared-responsibility matrix names all three parties in every area",
    ),
    rationale=LText(
        ja="分担の空白は、誰も担当しない領域がある可能性を示します。",
        en="A blank cell may be an area that nobody looks after.",
    ),
    remediation=LText(
        ja="各領域で当社・お客様・基盤事業者の欄を埋めてください（担当なしは「―」）。",
        en="Fill the provider, customer and platform cells of each area ('—' for none).",
    ),
    severity=Severity.MEDIUM,
    commitments=("roles-and-responsibilities",),
)
def responsibility_matrix_complete(context: CheckContext) -> Iterator[Finding]:
    """Each commitment citing this check has a matrix with no blank cell."""
    for commitment in _records(context).commitments:
        if not any(link.check_id == "responsibility_matrix_complete" for link in commitment.checks):
            continue
        subject = f"commitment:{commitment.id}"
        areas = commitment.responsibility_areas
        if not areas:
            yield Finding(FAIL, subject, N_("The commitment has no responsibility matrix."))
            continue
        blank = [
            str(index + 1)
            for index, row in enumerate(areas)
            if any(
                _blank(cell) for cell in (row.area, row.provider, row.customer, row.cloud_platform)
            )
        ]
        if blank:
            yield Finding(
                FAIL, subject, N_("Rows with a blank cell: %(rows)s"), {"rows": ", ".join(blank)}
            )
        else:
            yield Finding(PASS, subject, N_("%(count)s areas, none blank."), {"count": len(areas)})


@check(
    id="service_regions_within_residency",
    title=LText(
        ja="全サービスの宣言リージョンがデータ所在地の方針内にある",
        en="Every service's declared regions lie within the data-residency policy",
    ),
    rationale=LText(
        ja="お客様データの保存先は、公表した国内リージョンに限られます。",
        en="Customer data may only be stored in the regions the whitepaper names.",
    ),
    remediation=LText(
        ja="サービスのリージョンを見直すか、方針（allowed_regions）を改めて公表してください。",
        en="Move the service, or change and republish the policy (allowed_regions).",
    ),
    severity=Severity.HIGH,
    commitments=("data-storage-location",),
)
def service_regions_within_residency(context: CheckContext) -> Iterator[Finding]:
    """Per service: each declared region is allowed for one of its platforms."""
    allowed: Mapping[str, list[str]] = context.parameters.get("allowed_regions") or {}
    if not allowed:
        if context.cited_by:
            message = N_("The commitment sets no allowed_regions parameter to check against.")
            yield Finding(ERROR, "policy", message, details={"cited_by": list(context.cited_by)})
        else:
            message = N_("No commitment promises a data residency to check against.")
            yield Finding(ResultStatus.NOT_APPLICABLE, "policy", message)
        return
    for service in _records(context).services:
        permitted = {r for platform in service.platforms for r in allowed.get(platform, [])}
        outside = [region for region in service.regions if region not in permitted]
        subject = f"service:{service.id}"
        if outside:
            yield Finding(
                FAIL,
                subject,
                N_("Regions outside the policy: %(regions)s"),
                {"regions": ", ".join(outside)},
                {"outside": outside, "platforms": list(service.platforms)},
            )
        else:
            yield Finding(
                PASS,
                subject,
                N_("All regions allowed: %(regions)s"),
                {"regions": ", ".join(service.regions)},
            )


@check(
    id="service_endpoints_https",
    title=LText(
        ja="全サービスの公開エンドポイントが HTTPS である",
        en="Every service's public endpoints use HTTPS",
    ),
    rationale=LText(
        ja="通信経路の暗号化（TLS）は公表した暗号化方針の一部です。",
        en="Encryption in transit (TLS) is part of the published cryptography policy.",
    ),
    remediation=LText(
        ja="エンドポイントを https:// に切り替え、平文の URL を公開しないでください。",
        en="Serve the endpoint over https:// and stop publishing plain-text URLs.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
)
def service_endpoints_https(context: CheckContext) -> Iterator[Finding]:
    """Per service: every declared endpoint starts with https://."""
    for service in _records(context).services:
        subject = f"service:{service.id}"
        if not service.endpoints:
            yield Finding(
                ResultStatus.NOT_APPLICABLE, subject, N_("The service declares no public endpoint.")
            )
            continue
        plain = [url for url in service.endpoints if not url.lower().startswith("https://")]
        if plain:
            yield Finding(
                FAIL, subject, N_("Endpoints without HTTPS: %(urls)s"), {"urls": ", ".join(plain)}
            )
        else:
            yield Finding(
                PASS,
                subject,
                N_("%(count)s endpoints, all HTTPS."),
                {"count": len(service.endpoints)},
            )
