"""Azure encryption at rest (commitment 9): storage accounts, managed disks, SQL TDE."""

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
    posture_check,
    result,
    unknown_property,
)
from mamori.posture.snapshot import Resource


def _flag(facts: PostureFacts, resource: Resource, name: str, ok: bool) -> Finding:
    """The pass or fail of one encryption property, unknown when it could not be read."""
    why = unknown_property(resource, name)
    if why:
        return result(
            facts,
            UNKNOWN,
            resource,
            N_("Whether %(name)s is encrypted could not be read: %(error)s"),
            {"name": resource.name, "error": why},
        )
    message = (
        N_("%(name)s is encrypted at rest.") if ok else N_("%(name)s is not encrypted at rest.")
    )
    return result(facts, PASS if ok else FAIL, resource, message, {"name": resource.name})


@posture_check(
    id="azure_storage_encrypted",
    title=LText(
        ja="ストレージ アカウントが保存時に暗号化されている",
        en="Storage accounts are encrypted at rest",
    ),
    rationale=LText(
        ja="暗号化されていないデータは媒体の流出で読まれてしまいます。",
        en="Unencrypted data can be read from leaked media.",
    ),
    remediation=LText(
        ja="BLOB とファイルのサービス暗号化を有効にしてください。",
        en="Enable service encryption for blobs and files.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.storage.account",),
)
def storage_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Blob and file service encryption are on."""
    for account in facts.resources("azure.storage.account"):
        yield _flag(
            facts,
            account,
            "encryption_enabled",
            account.properties.get("encryption_enabled") is True,
        )


@posture_check(
    id="azure_disk_encrypted",
    title=LText(ja="マネージド ディスクが暗号化されている", en="Managed disks are encrypted"),
    rationale=LText(
        ja="ディスクには利用者のデータが書き込まれます。", en="Disks hold customer data."
    ),
    remediation=LText(
        ja="ディスクに暗号化の種類（プラットフォーム キーまたはカスタマー キー）を設定してください。",  # noqa: E501 - one message id
        en="Set an encryption type (platform- or customer-managed key) on the disk.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.compute.disk",),
)
def disk_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every disk has an encryption type."""
    for disk in facts.resources("azure.compute.disk"):
        yield _flag(facts, disk, "encryption_type", bool(disk.properties.get("encryption_type")))


@posture_check(
    id="azure_sql_tde_enabled",
    title=LText(
        ja="SQL データベースの TDE が有効", en="SQL databases use transparent data encryption"
    ),
    rationale=LText(
        ja="TDE はデータベースとバックアップを保存時に暗号化します。",
        en="TDE encrypts databases and their backups at rest.",
    ),
    remediation=LText(
        ja="データベースの透過的データ暗号化を有効にしてください。",
        en="Turn on transparent data encryption for the database.",
    ),
    severity=Severity.HIGH,
    commitments=("cryptography-policy",),
    types=("azure.sql.database", "azure.sql.server"),
)
def sql_tde(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every user database has TDE enabled; a server whose databases were unreadable is unknown."""
    if facts.snapshot is None:
        return
    for server in facts.snapshot.of_type("azure.sql.server"):
        failed = [
            entry
            for entry in facts.snapshot.failures("azure", "sql")
            if entry.operation == "databases.list_by_server" and entry.resource == server.id
        ]
        if failed:
            error = f"{failed[0].error_code}: {failed[0].error_message}"
            message = N_("The databases of %(name)s could not be listed: %(error)s")
            yield result(facts, UNKNOWN, server, message, {"name": server.name, "error": error})
    for database in facts.snapshot.of_type("azure.sql.database"):
        yield _flag(facts, database, "tde_enabled", database.properties.get("tde_enabled") is True)
