"""Snapshots: file round trip, tamper and format errors, and diffs."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from mamori.posture.collectors.base import SnapshotBuilder
from mamori.posture.snapshot import (
    READ_BLOCK,
    CoverageEntry,
    Resource,
    Snapshot,
    SnapshotFileError,
    diff,
    read_snapshot,
    snapshot_bytes,
    unknown,
    write_snapshot,
)

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def sample() -> Snapshot:
    builder = SnapshotBuilder(NOW)
    builder.scope("aws", "111111111111", ["ap-northeast-1", "us-east-1", "ap-northeast-3"])
    digest = builder.answered(
        "aws",
        "111111111111",
        "global",
        "s3",
        "ListBuckets",
        {"Buckets": [{"Name": "logs", "CreationDate": NOW}], "Size": Decimal("2.5")},
    )
    builder.add(
        Resource(
            "aws",
            "111111111111",
            "us-east-1",
            "aws.s3.bucket",
            "arn:aws:s3:::logs",
            "logs",
            {"mamori:tenant": "midori-city-boe"},
            {"encryption": None, "policy": unknown("AccessDenied: no"), "versioning": "Enabled"},
            (digest,),
        )
    )
    builder.failed(
        "aws", "111111111111", "ap-northeast-1", "guardduty", "ListDetectors", "AccessDenied", "x"
    )
    return builder.snapshot


def test_a_written_snapshot_reads_back_identical(tmp_path: Path) -> None:
    snapshot = sample()
    path = tmp_path / "snap.jsonl.gz"
    write_snapshot(snapshot, path)
    again = read_snapshot(path)
    assert again.digest() == snapshot.digest()
    assert again.resources == snapshot.resources
    assert again.coverage == snapshot.coverage
    assert again.scope == {"aws": {"111111111111": sorted(snapshot.scope["aws"]["111111111111"])}}
    assert diff(snapshot, again).empty
    # SDK types became plain JSON in the stored raw body.
    body = next(iter(again.raw.values())).body
    assert body["Buckets"][0]["CreationDate"] == "2026-11-27T03:00:00Z"
    assert body["Size"] == 2.5


def test_a_snapshot_larger_than_a_read_block_reads_back_whole(tmp_path: Path) -> None:
    # Lines straddle the boundaries of the blocks the reader decompresses at a time.
    builder = SnapshotBuilder(NOW)
    for number in range(3 * READ_BLOCK // 1000):
        digest = builder.answered(
            "aws", "1", "ap-northeast-1", "ec2", "DescribeVolumes", {"n": number, "pad": "x" * 700}
        )
        builder.add(
            Resource(
                "aws",
                "1",
                "ap-northeast-1",
                "aws.ec2.volume",
                f"vol-{number}",
                tags={"mamori:tenant": f"t{number % 3}"},
                properties={"encrypted": number % 2 == 0},
                raw=(digest,),
            )
        )
    path = tmp_path / "big.jsonl.gz"
    write_snapshot(builder.snapshot, path)
    assert len(gzip.decompress(path.read_bytes())) > 2 * READ_BLOCK
    again = read_snapshot(path)
    assert len(again.resources) == len(builder.snapshot.resources)
    assert sorted(again.resources, key=lambda r: r.key) == sorted(
        builder.snapshot.resources, key=lambda r: r.key
    )
    assert again.digest() == builder.snapshot.digest()


def test_a_last_line_without_a_newline_is_read() -> None:
    data = gzip.decompress(snapshot_bytes(sample())).rstrip(b"\n")
    again = read_snapshot(io.BytesIO(gzip.compress(data)))
    assert again.digest() == sample().digest()


def test_the_same_snapshot_always_writes_the_same_bytes() -> None:
    assert snapshot_bytes(sample()) == snapshot_bytes(sample())


def _lines(data: bytes) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in gzip.decompress(data).splitlines()]


def _file(lines: list[dict[str, object]]) -> io.BytesIO:
    return io.BytesIO(gzip.compress(b"\n".join(orjson.dumps(line) for line in lines) + b"\n"))


def test_a_raw_response_changed_in_the_file_no_longer_matches_what_resources_cite() -> None:
    lines = _lines(snapshot_bytes(sample()))
    raw = next(i for i, line in enumerate(lines) if line.get("kind") == "raw")
    lines[raw]["body"] = {"Buckets": []}
    with pytest.raises(SnapshotFileError) as caught:
        read_snapshot(_file(lines), "edited.gz")
    resource_line = next(i for i, line in enumerate(lines) if line.get("kind") == "resource")
    assert caught.value.line == resource_line + 1
    assert "unknown raw response" in caught.value.problem
    assert str(caught.value).startswith("edited.gz, line")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not gzip at all", "not a gzip file"),
        (gzip.compress(b""), "empty"),
        (gzip.compress(b'{"format": "other/1"}\n'), "not a mamori-posture-snapshot/1 file"),
        (gzip.compress(b"[1, 2]\n"), "expected a JSON object"),
    ],
)
def test_bad_files_are_refused_with_the_reason(content: bytes, problem: str) -> None:
    with pytest.raises(SnapshotFileError) as caught:
        read_snapshot(io.BytesIO(content), "bad.gz")
    assert problem in str(caught.value)


def test_a_bad_line_is_named() -> None:
    lines = _lines(snapshot_bytes(sample()))
    lines.append({"kind": "resource", "provider": "aws"})
    with pytest.raises(SnapshotFileError) as caught:
        read_snapshot(_file(lines), "snap.gz")
    assert caught.value.line == len(lines)


def test_diff_names_added_removed_changed_and_lost_coverage() -> None:
    before = sample()
    after = Snapshot(collected_at=NOW, scope=before.scope, raw=dict(before.raw))
    old = before.resources[0]
    after.add(
        Resource(
            old.provider,
            old.account,
            "ap-northeast-1",
            old.type,
            old.id,
            old.name,
            old.tags,
            {**old.properties, "encryption": {"algorithm": "AES256", "kms_key": None}},
            old.raw,
        )
    )
    after.add(Resource("aws", "111111111111", "ap-northeast-1", "aws.ec2.vpc", "vpc-1"))
    before.coverage.append(
        CoverageEntry("aws", "111111111111", "ap-northeast-1", "ec2", "DescribeVpcs", True)
    )
    after.coverage.append(
        CoverageEntry(
            "aws", "111111111111", "ap-northeast-1", "ec2", "DescribeVpcs", False, "Throttling"
        )
    )
    changes = diff(before, after)
    assert [r.key for r in changes.added] == ["aws:vpc-1"]
    assert changes.removed == ()
    assert [(c.key, c.fields) for c in changes.changed] == [
        ("aws:arn:aws:s3:::logs", ("region", "properties.encryption"))
    ]
    assert [e.operation for e in changes.coverage_lost] == ["DescribeVpcs"]
    assert not changes.empty
    assert [r.key for r in diff(after, before).removed] == ["aws:vpc-1"]
