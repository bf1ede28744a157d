"""CloudTrail log files, written in the record shape AWS documents (eventVersion 1.08+)."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mamori.ledger.events import IngestFormatError, Outcome, Severity
from mamori.ledger.formats.cloudtrail import cloudtrail_event, iter_cloudtrail

START_INSTANCES: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": "arn:aws:iam::123456789012:user/Mateo",
        "accountId": "123456789012",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "userName": "Mateo",
    },
    "eventTime": "2024-05-01T08:12:41Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "StartInstances",
    "awsRegion": "ap-northeast-1",
    "sourceIPAddress": "198.51.100.17",
    "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 botocore/2.4.5",
    "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0abcd1234example"}]}},
    "responseElements": {
        "instancesSet": {
            "items": [
                {
                    "instanceId": "i-0abcd1234example",
                    "currentState": {"code": 0, "name": "pending"},
                    "previousState": {"code": 80, "name": "stopped"},
                }
            ]
        }
    },
    "requestID": "e4336db0-149f-4a6b-844d-EXAMPLEb9d16",
    "eventID": "e755e09c-42f9-4c5c-9064-EXAMPLE228c7",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
    "tlsDetails": {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "ec2.ap-northeast-1.amazonaws.com",
    },
}

ACCESS_DENIED: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAIDPPEZS35WEXAMPLE:deploy-session",
        "arn": "arn:aws:sts::123456789012:assumed-role/Deploy/deploy-session",
        "accountId": "123456789012",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::123456789012:role/Deploy",
                "userName": "Deploy",
            },
            "attributes": {"creationDate": "2024-05-01T08:00:00Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2024-05-01T08:13:02Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "ap-northeast-1",
    "sourceIPAddress": "203.0.113.80",
    "errorCode": "AccessDenied",
    "errorMessage": "Access Denied",
    "requestParameters": {"bucketName": "customer-exports", "key": "2024/05/report.csv"},
    "responseElements": None,
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": False,
    "recipientAccountId": "123456789012",
    "eventCategory": "Data",
}

CONSOLE_LOGIN_FAILURE: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {"type": "IAMUser", "accountId": "123456789012", "principalId": "AIDAEX"},
    "eventTime": "2024-05-01T08:20:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.44",
    "errorMessage": "Failed authentication",
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"},
    "eventType": "AwsConsoleSignIn",
    "recipientAccountId": "123456789012",
}

SERVICE_CALL: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"},
    "eventTime": "2024-05-01T08:30:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "RunInstances",
    "awsRegion": "ap-northeast-1",
    "sourceIPAddress": "autoscaling.amazonaws.com",
    "eventType": "AwsApiCall",
    "recipientAccountId": "123456789012",
}

RECORDS = [START_INSTANCES, ACCESS_DENIED, CONSOLE_LOGIN_FAILURE, SERVICE_CALL]


def log_file(records: list[dict[str, Any]]) -> bytes:
    """A log file as CloudTrail delivers it to S3: one JSON object, gzipped."""
    return gzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode())


def test_log_file_records_map_to_events() -> None:
    events = list(iter_cloudtrail(io.BytesIO(log_file(RECORDS))))
    start, denied, login, service = events

    assert start.occurred_at == datetime(2024, 5, 1, 8, 12, 41, tzinfo=UTC)
    assert start.actor == "arn:aws:iam::123456789012:user/Mateo"
    assert start.action == "ec2:StartInstances"
    assert start.source_address == "198.51.100.17"
    assert (start.outcome, start.severity) == (Outcome.SUCCESS, Severity.INFO)
    assert start.labels == {
        "cloud.provider": "aws",
        "cloud.region": "ap-northeast-1",
        "cloud.account.id": "123456789012",
        "aws.event_source": "ec2.amazonaws.com",
    }
    assert start.original == START_INSTANCES

    assert denied.actor == "arn:aws:sts::123456789012:assumed-role/Deploy/deploy-session"
    assert (denied.action, denied.outcome, denied.severity) == (
        "s3:GetObject",
        Outcome.FAILURE,
        Severity.WARNING,
    )
    assert denied.message == "Access Denied"

    assert (login.actor, login.action, login.outcome) == (
        "AIDAEX",
        "signin:ConsoleLogin",
        Outcome.FAILURE,
    )
    assert (service.actor, service.source_address) == (
        "autoscaling.amazonaws.com",
        "autoscaling.amazonaws.com",
    )


def test_uncompressed_and_pretty_printed_files() -> None:
    pretty = json.dumps({"Records": RECORDS}, indent=2).encode()
    assert len(list(iter_cloudtrail(io.BytesIO(pretty)))) == len(RECORDS)
    assert list(iter_cloudtrail(io.BytesIO(b'{"Records": []}'))) == []


def test_insight_records_without_identity() -> None:
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-01T09:00:00Z",
        "awsRegion": "us-east-1",
        "eventID": "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "123456789012",
        "sharedEventID": "12345678-1234-1234-1234-123456789012",
        "insightDetails": {"state": "Start", "eventSource": "ssm.amazonaws.com"},
        "eventCategory": "Insight",
    }
    (event,) = iter_cloudtrail(io.BytesIO(log_file([insight])))
    assert (event.actor, event.action, event.outcome) == ("", "", Outcome.SUCCESS)
    assert event.labels["cloud.account.id"] == "123456789012"


def test_errors_name_the_record() -> None:
    with pytest.raises(IngestFormatError, match="record 2"):
        list(iter_cloudtrail(io.BytesIO(log_file([START_INSTANCES, "oops"]))))  # type: ignore[list-item]
    broken = json.dumps({"Records": [START_INSTANCES]})[:-40].encode()
    with pytest.raises(IngestFormatError, match="line 1 is not JSON"):
        list(iter_cloudtrail(io.BytesIO(broken)))
    with pytest.raises(IngestFormatError, match="Records list"):
        list(iter_cloudtrail(io.BytesIO(b'{"records": []}')))


def test_records_stream_out_before_the_file_is_read() -> None:
    """The first event is yielded after reading only the first chunk of a large file."""
    data = log_file([START_INSTANCES] * 5000)
    source = io.BytesIO(data)
    events = iter_cloudtrail(source)
    assert next(events).action == "ec2:StartInstances"
    assert source.tell() < len(data)


def test_record_mapping_alone() -> None:
    event = cloudtrail_event({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"})
    assert event.action == "iam:CreateUser"
    assert event.occurred_at is None
