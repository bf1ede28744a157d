"""AWS encryption at rest (commitment 9, cryptography-policy).

S3 default encryption, EBS volumes, snapshots and per-region default encryption, RDS
instances, clusters and snapshots, EFS, DynamoDB, backup vaults, and CloudWatch log
groups. A property that could not be read is unknown, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import (
    aws_resources,
    unknown_result,
    unread,
    used_regions,
)
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    allowed_regions,
    posture_check,
    result,
)
from mamori.posture.snapshot import Resource

CRYPTO = ("cryptography-policy",)


def _encrypted_flag(facts: PostureFacts, resource: Resource, name: str = "encrypted") -> Finding:
    """Pass when the boolean property `name` is true, fail when false, unknown otherwise."""
    missing = unread(resource, name)
    if missing:
        return unknown_result(facts, resource, missing)
    value = resource.properties[name]
    if value is True:
        kms_key = resource.properties.get("kms_key")
        if isinstance(kms_key, str) and kms_key:
            return result(
                facts, PASS, resource, N_("Encrypted at rest with %(key)s."), {"key": kms_key}
            )
        return result(facts, PASS, resource, N_("Encrypted at rest."))
    if value is False:
        return result(facts, FAIL, resource, N_("Not encrypted at rest."))
    return result(
        facts,
        UNKNOWN,
        resource,
        N_("%(property)s has an unexpected value: %(value)s"),
        {"property": name, "value": str(value)},
    )


@posture_check(
    id="aws_s3_default_encryption",
    title=LText(
        ja="S3 バケットに既定の暗号化が設定されている",
        en="S3 buckets have default encryption",
    ),
    rationale=LText(
        ja="既定の暗号化があれば、アップロードされたオブジェクトは必ず暗号化して保存されます。",
        en="With default encryption every object uploaded is stored encrypted.",
    ),
    remediation=LText(
        ja="バケットの既定の暗号化で SSE-S3 または SSE-KMS を有効にしてください。",
        en="Turn on default encryption (SSE-S3 or SSE-KMS) for the bucket.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.s3.bucket",),
)
def s3_default_encryption(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per bucket: a default encryption algorithm is configured."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for bucket in aws_resources(facts.snapshot, "aws.s3.bucket"):
        missing = unread(bucket, "encryption")
        if missing:
            yield unknown_result(facts, bucket, missing)
            continue
        encryption = bucket.properties["encryption"]
        algorithm = encryption.get("algorithm") if isinstance(encryption, dict) else None
        if algorithm:
            yield result(
                facts,
                PASS,
                bucket,
                N_("Default encryption: %(algorithm)s."),
                {"algorithm": str(algorithm)},
            )
        else:
            yield result(facts, FAIL, bucket, N_("No default encryption is configured."))


@posture_check(
    id="aws_ebs_volumes_encrypted",
    title=LText(ja="EBS ボリュームが暗号化されている", en="EBS volumes are encrypted"),
    rationale=LText(
        ja="暗号化されていないボリュームは、スナップショットの共有や誤った削除手順で"
        "データが読める状態で残るおそれがあります。",
        en="An unencrypted volume's data can be read from its snapshots or leftovers.",
    ),
    remediation=LText(
        ja="暗号化したスナップショットから暗号化済みのボリュームを作り直し、置き換えてください。",
        en="Create an encrypted copy from a snapshot and replace the volume with it.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.ec2.volume",),
)
def ebs_volumes_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per volume: encrypted."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for volume in aws_resources(facts.snapshot, "aws.ec2.volume"):
        yield _encrypted_flag(facts, volume)


@posture_check(
    id="aws_ebs_encryption_by_default",
    title=LText(
        ja="使用中のリージョンで EBS の既定の暗号化が有効になっている",
        en="EBS encryption by default is on in every region in use",
    ),
    rationale=LText(
        ja="既定の暗号化が有効なら、新しく作るボリュームとスナップショットは必ず暗号化されます。",
        en="With encryption by default every new volume and snapshot is encrypted.",
    ),
    remediation=LText(
        ja="EC2 の設定で「EBS 暗号化」を常に有効にしてください（リージョンごとの設定です）。",
        en="Turn on 'Always encrypt new EBS volumes' in the EC2 settings of each region.",
    ),
    severity=Severity.MEDIUM,
    commitments=CRYPTO,
    types=("aws.ec2.region_settings",),
)
def ebs_encryption_by_default(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per account and region that is in use or allowed: encryption by default is on."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    used = used_regions(facts)
    allowed = allowed_regions(context, "aws")
    for settings in aws_resources(facts.snapshot, "aws.ec2.region_settings"):
        if settings.region not in allowed and settings.region not in used.get(
            settings.account, frozenset()
        ):
            continue  # a region the account neither uses nor may use
        missing = unread(settings, "ebs_encryption_by_default")
        if missing:
            yield unknown_result(facts, settings, missing)
        elif settings.properties["ebs_encryption_by_default"] is True:
            yield result(facts, PASS, settings, N_("EBS encryption by default is on."))
        else:
            yield result(facts, FAIL, settings, N_("EBS encryption by default is off."))


@posture_check(
    id="aws_ebs_snapshots_encrypted",
    title=LText(ja="EBS スナップショットが暗号化されている", en="EBS snapshots are encrypted"),
    rationale=LText(
        ja="スナップショットはボリュームの完全な複製です。暗号化されていなければ、"
        "共有やコピーでそのまま読まれてしまいます。",
        en="A snapshot is a full copy of a volume; unencrypted, it can be read wherever it "
        "is shared or copied.",
    ),
    remediation=LText(
        ja="暗号化を指定してスナップショットをコピーし、元のスナップショットを削除してください。",
        en="Copy the snapshot with encryption on and delete the original.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.ec2.snapshot",),
)
def ebs_snapshots_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per snapshot: encrypted."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for snapshot in aws_resources(facts.snapshot, "aws.ec2.snapshot"):
        yield _encrypted_flag(facts, snapshot)


@posture_check(
    id="aws_rds_storage_encrypted",
    title=LText(
        ja="RDS のインスタンス・クラスター・スナップショットが暗号化されている",
        en="RDS instances, clusters and snapshots are encrypted",
    ),
    rationale=LText(
        ja="データベースのストレージとそのスナップショットには、お客様のデータがそのまま入っています。",
        en="Database storage and its snapshots hold customer data as it is.",
    ),
    remediation=LText(
        ja="暗号化したスナップショットのコピーから復元して、暗号化済みのデータベースに移行してください。",
        en="Restore from an encrypted copy of a snapshot and move to the encrypted database.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.rds.instance", "aws.rds.cluster", "aws.rds.snapshot"),
)
def rds_storage_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per RDS instance, cluster and snapshot: storage encrypted."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for resource in aws_resources(
        facts.snapshot, "aws.rds.instance", "aws.rds.cluster", "aws.rds.snapshot"
    ):
        yield _encrypted_flag(facts, resource)


@posture_check(
    id="aws_efs_encrypted",
    title=LText(ja="EFS ファイルシステムが暗号化されている", en="EFS file systems are encrypted"),
    rationale=LText(
        ja="共有ファイルシステムには多くのデータが集まるため、保存時の暗号化が欠かせません。",
        en="Shared file systems gather a lot of data; they must be encrypted at rest.",
    ),
    remediation=LText(
        ja="暗号化を有効にした新しいファイルシステムを作り、データを移してください"
        "（既存のファイルシステムは後から暗号化できません）。",
        en="Create a new encrypted file system and move the data; an existing one cannot be "
        "encrypted afterwards.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.efs.file_system",),
)
def efs_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per file system: encrypted."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for file_system in aws_resources(facts.snapshot, "aws.efs.file_system"):
        yield _encrypted_flag(facts, file_system)


@posture_check(
    id="aws_dynamodb_encrypted",
    title=LText(ja="DynamoDB テーブルが暗号化されている", en="DynamoDB tables are encrypted"),
    rationale=LText(
        ja="DynamoDB は常に保存時に暗号化しますが、どの鍵を使っているかを記録として示します。",
        en="DynamoDB always encrypts at rest; the result records which kind of key is used.",
    ),
    remediation=LText(
        ja="鍵を自社で管理する必要がある場合は、テーブルの暗号化を KMS キーに切り替えてください。",
        en="Switch the table to a KMS key if keys must be under your own control.",
    ),
    severity=Severity.LOW,
    commitments=CRYPTO,
    types=("aws.dynamodb.table",),
)
def dynamodb_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per table: encrypted with a KMS key, or with the AWS-owned key (noted)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for table in aws_resources(facts.snapshot, "aws.dynamodb.table"):
        missing = unread(table, "encryption")
        if missing:
            yield unknown_result(facts, table, missing)
            continue
        encryption = str(table.properties["encryption"] or "").upper()
        if encryption == "KMS":
            yield result(facts, PASS, table, N_("Encrypted at rest with a KMS key."))
        elif encryption == "AWS_OWNED":
            yield result(
                facts,
                PASS,
                table,
                N_("Encrypted at rest with a key AWS owns and manages (not a KMS key of yours)."),
            )
        else:
            yield result(
                facts,
                UNKNOWN,
                table,
                N_("%(property)s has an unexpected value: %(value)s"),
                {"property": "encryption", "value": encryption or "None"},
            )


@posture_check(
    id="aws_backup_vaults_encrypted",
    title=LText(ja="バックアップボールトが暗号化されている", en="Backup vaults are encrypted"),
    rationale=LText(
        ja="バックアップはデータの完全な複製です。本番と同じく暗号化して保管する必要があります。",
        en="Backups are full copies of the data and must be encrypted like the originals.",
    ),
    remediation=LText(
        ja="KMS キーを指定した新しいボールトを作り、"
        "バックアッププランの保存先を切り替えてください。",
        en="Create a vault with a KMS key and point the backup plans at it.",
    ),
    severity=Severity.HIGH,
    commitments=CRYPTO,
    types=("aws.backup.vault",),
)
def backup_vaults_encrypted(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per vault: encrypted."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for vault in aws_resources(facts.snapshot, "aws.backup.vault"):
        yield _encrypted_flag(facts, vault)


@posture_check(
    id="aws_log_groups_customer_key",
    title=LText(
        ja="CloudWatch ロググループを自社管理の KMS キーで暗号化している",
        en="CloudWatch log groups are encrypted with a customer-managed KMS key",
    ),
    rationale=LText(
        ja="CloudWatch Logs は既定でもサービス側の鍵で暗号化しています。"
        "自社管理の KMS キーを使えば、鍵の利用と無効化を自分で管理できます。",
        en="CloudWatch Logs encrypts every log group by default with a service key; a "
        "customer-managed KMS key adds control over who can use or revoke the key.",
    ),
    remediation=LText(
        ja="ロググループに KMS キーを関連付けてください（associate-kms-key）。",
        en="Associate a KMS key with the log group (associate-kms-key).",
    ),
    severity=Severity.LOW,
    commitments=CRYPTO,
    types=("aws.logs.log_group",),
)
def log_groups_customer_key(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per log group: a KMS key is associated (without one, AWS's default encryption applies)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for group in aws_resources(facts.snapshot, "aws.logs.log_group"):
        missing = unread(group, "kms_key")
        if missing:
            yield unknown_result(facts, group, missing)
        elif group.properties["kms_key"]:
            yield result(
                facts,
                PASS,
                group,
                N_("Encrypted with %(key)s."),
                {"key": str(group.properties["kms_key"])},
            )
        else:
            yield result(
                facts,
                FAIL,
                group,
                N_(
                    "Encrypted only with the CloudWatch Logs default service key; "
                    "no customer-managed KMS key."
                ),
            )
