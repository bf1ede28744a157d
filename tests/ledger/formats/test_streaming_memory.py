"""File imports keep memory flat: a 200 MB export is read with a buffer of a few MB."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

from mamori.ledger.events import IncomingEvent
from mamori.ledger.formats.azure_activity import iter_azure_activity
from mamori.ledger.formats.cloudtrail import iter_cloudtrail
from mamori.ledger.formats.json_records import Readable

MiB = 1024 * 1024
PEAK_LIMIT = 8 * MiB

# A PutBucketPolicy call carries the whole policy document, so records of several KB
# are ordinary; 10 KB records keep the test's own overhead (per record) low.
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": f"AllowPartner{n}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{100000000000 + n}:root"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::exports", "arn:aws:s3:::exports/*"],
            }
            for n in range(40)
        ],
    }
)
CLOUDTRAIL_RECORD = json.dumps(
    {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": "arn:aws:iam::123456789012:user/Mateo",
            "accountId": "123456789012",
            "userName": "Mateo",
        },
        "eventTime": "2024-05-01T08:12:41Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "ap-northeast-1",
        "sourceIPAddress": "198.51.100.17",
        "requestParameters": {"bucketName": "exports", "bucketPolicy": POLICY},
        "eventID": "EVENT-ID",
        "recipientAccountId": "123456789012",
    }
).encode()
AZURE_RECORD = json.dumps(
    {
        "time": "2024-05-01T08:15:02.4187734Z",
        "resourceId": "/SUBSCRIPTIONS/6B4F/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.WEB/SITES/A",
        "operationName": "MICROSOFT.WEB/SITES/CONFIG/WRITE",
        "category": "Administrative",
        "resultType": "Success",
        "callerIpAddress": "198.51.100.30",
        "correlationId": "EVENT-ID",
        "level": "Information",
        "properties": {"requestbody": POLICY},
    }
).encode()


class GeneratedFile:
    """A binary file whose bytes come from a generator and are never all in memory."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = bytearray()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        while len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.size += len(chunk)
        return chunk


def cloudtrail_file(count: int) -> Iterator[bytes]:
    yield b'{"Records":['
    for n in range(count):
        yield (b"," if n else b"") + CLOUDTRAIL_RECORD.replace(b"EVENT-ID", b"%d" % n)
    yield b"]}"


def azure_lines(count: int) -> Iterator[bytes]:
    for n in range(count):
        yield AZURE_RECORD.replace(b"EVENT-ID", b"%d" % n) + b"\n"


def gzipped(pieces: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(1, wbits=zlib.MAX_WBITS | 16)
    for piece in pieces:
        yield compressor.compress(piece)
    yield compressor.flush()


def peak_while_importing(
    importer: Callable[[Readable], Iterator[IncomingEvent]], source: GeneratedFile
) -> tuple[int, int]:
    """(events read, peak traced bytes) for one import."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in importer(source))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_cloudtrail_import_of_200_mb_stays_flat() -> None:
    count = 200 * MiB // len(CLOUDTRAIL_RECORD)
    source = GeneratedFile(cloudtrail_file(count))
    events, peak = peak_while_importing(iter_cloudtrail, source)
    assert events == count
    assert source.size > 199 * MiB
    assert peak < PEAK_LIMIT, f"peak {peak / MiB:.1f} MiB"


def test_gzipped_azure_import_stays_flat() -> None:
    count = 64 * MiB // len(AZURE_RECORD)
    source = GeneratedFile(gzipped(azure_lines(count)))
    events, peak = peak_while_importing(iter_azure_activity, source)
    assert events == count
    assert peak < PEAK_LIMIT, f"peak {peak / MiB:.1f} MiB"
