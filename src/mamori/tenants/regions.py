"""Display names of cloud platforms and the regions services declare."""

from __future__ import annotations

from mamori.core.i18n import N_, Lang, translate

PLATFORM_NAMES = {
    "aws": N_("Amazon Web Services (AWS)"),
    "azure": N_("Microsoft Azure"),
}

REGION_PLACES = {
    "ap-northeast-1": N_("Tokyo"),
    "ap-northeast-3": N_("Osaka"),
    "japaneast": N_("Japan East, Tokyo and Saitama"),
    "japanwest": N_("Japan West, Osaka"),
}


def platform_name(platform: str, lang: Lang) -> str:
    """`Microsoft Azure` for `azure`; unknown platforms are shown as given."""
    name = PLATFORM_NAMES.get(platform)
    return translate(lang, name) if name else platform


def region_name(region: str, lang: Lang) -> str:
    """`ap-northeast-1 (Tokyo)`; regions without a known place are shown as given."""
    place = REGION_PLACES.get(region)
    return f"{region} ({translate(lang, place)})" if place else region
