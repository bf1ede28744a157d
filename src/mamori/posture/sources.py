"""What `mamori posture collect` reads, from MAMORI_POSTURE_SOURCES_FILE.

    aws:
      max_workers: 8
      accounts:
        - id: "111111111111"
          role_arn: arn:aws:iam::111111111111:role/mamori-readonly   # optional
          external_id: mamori                                          # optional
    azure:
      subscriptions: ["00000000-0000-0000-0000-000000000000"]

Credentials never appear here: boto3 and azure-identity find them in the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_
from mamori.core.settings import Settings
from mamori.core.yamlsource import YamlDocument, load_yaml
from mamori.posture.collectors.base import Collector

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def collectors_from_settings(settings: Settings) -> list[Collector]:
    """The collectors the sources file asks for."""
    path = settings.posture_sources_file
    if path is None:
        raise ConfigurationError(
            N_("no cloud accounts are configured"),
            hint=N_("set MAMORI_POSTURE_SOURCES_FILE (see docs/posture.md)"),
        )
    return collectors_from_file(path)


def collectors_from_file(path: Path) -> list[Collector]:
    """The collectors declared in `path`; InputError naming the line for mistakes."""
    document = load_yaml(path)
    data = document.data if isinstance(document.data, Mapping) else None
    if data is None or not data or set(data) - {"aws", "azure"}:
        raise document.error(N_("expected 'aws' and/or 'azure'"), ())
    collectors: list[Collector] = []
    if "aws" in data:
        collectors.append(_aws(document, data["aws"]))
    if "azure" in data:
        collectors.append(_azure(document, data["azure"]))
    return collectors


def _aws(document: YamlDocument, section: Any) -> Collector:
    from mamori.posture.collectors.aws import AwsAccount, AwsCollector

    if not isinstance(section, Mapping) or not isinstance(section.get("accounts"), list):
        raise document.error(N_("expected a list under 'accounts'"), ("aws", "accounts"))
    accounts = []
    for number, item in enumerate(section["accounts"]):
        where: tuple[str | int, ...] = ("aws", "accounts", number)
        if not isinstance(item, Mapping) or not _ACCOUNT_ID.fullmatch(str(item.get("id", ""))):
            raise document.error(N_("each account needs a 12-digit 'id'"), where)
        accounts.append(
            AwsAccount(
                str(item["id"]),
                role_arn=item.get("role_arn"),
                external_id=item.get("external_id"),
            )
        )
    workers = section.get("max_workers", 8)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise document.error(N_("max_workers must be 1 to 64"), ("aws", "max_workers"))
    return AwsCollector(accounts, max_workers=workers)


def _azure(document: YamlDocument, section: Any) -> Collector:
    from azure.identity import DefaultAzureCredential

    from mamori.posture.collectors.azure import AzureCollector

    subscriptions = section.get("subscriptions") if isinstance(section, Mapping) else None
    if not isinstance(subscriptions, list) or not subscriptions:
        raise document.error(
            N_("expected a list under 'subscriptions'"), ("azure", "subscriptions")
        )
    return AzureCollector(DefaultAzureCredential(), [str(s) for s in subscriptions])
