"""AWS CloudTrail log files, imported as a stream.

A trail delivers `{"Records": [...]}` files (gzipped, `.json.gz`) to S3. The Records
array is read one record at a time, so a file of any size is imported with memory
for about one read chunk and one record. Each record maps to an event:

- time: `eventTime`; actor: `userIdentity` ARN, else user name, principal id or the
  invoking service; action: `<service>:<eventName>`, the service being `eventSource`
  without `.amazonaws.com` (the IAM action prefix, as in `s3:PutObject`);
- source address: `sourceIPAddress` (an IP, or a service name for calls AWS made);
- outcome: failure when `errorCode` is present (or a console sign-in failed), else
  success; failures are warnings, the rest informational;
- labels: `cloud.provider`, `cloud.region` (`awsRegion`), `cloud.account.id`
  (`recipientAccountId`) and `aws.event_source`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError, Outcome, Severity
from mamori.ledger.formats.base import first_value, lookup, parse_time, text_of
from mamori.ledger.formats.json_records import JsonScanner, Readable, file_text_chunks

RECORDS_KEY = "Records"
_ACTOR_KEYS = ("arn", "userName", "principalId", "invokedBy")


def cloudtrail_actor(identity: Any) -> str:
    """Who acted, from a `userIdentity` block."""
    if not isinstance(identity, Mapping):
        return ""
    found = first_value(identity, _ACTOR_KEYS)
    if found is None:
        found = lookup(identity, "sessionContext.sessionIssuer.arn")
    return text_of(found)


def cloudtrail_action(record: Mapping[str, Any]) -> str:
    """`s3:PutObject` from `eventSource` and `eventName`."""
    source = text_of(first_value(record, ("eventSource",)))
    name = text_of(first_value(record, ("eventName",)))
    service = source.removesuffix(".amazonaws.com")
    return f"{service}:{name}" if service and name else service or name


def cloudtrail_outcome(record: Mapping[str, Any]) -> Outcome:
    """Failure when AWS reported an error code (or a failed console sign-in)."""
    if record.get("errorCode"):
        return Outcome.FAILURE
    # ConsoleLogin reports a wrong password in responseElements, not in errorCode.
    if lookup(record, "responseElements.ConsoleLogin") == "Failure":
        return Outcome.FAILURE
    return Outcome.SUCCESS


def _labels(record: Mapping[str, Any]) -> dict[str, str]:
    account = first_value(record, ("recipientAccountId", "userIdentity.accountId"))
    labels = {
        "cloud.provider": "aws",
        "cloud.region": text_of(first_value(record, ("awsRegion",))),
        "cloud.account.id": text_of(account),
        "aws.event_source": text_of(first_value(record, ("eventSource",))),
    }
    return {key: value for key, value in labels.items() if value}


def cloudtrail_event(record: Mapping[str, Any]) -> IncomingEvent:
    """The event of one CloudTrail record, as decoded from JSON (kept as `original`)."""
    outcome = cloudtrail_outcome(record)
    action = cloudtrail_action(record)
    message = first_value(record, ("errorMessage", "errorCode"))
    return IncomingEvent(
        original=record,
        occurred_at=parse_time(record.get("eventTime")),
        severity=Severity.WARNING if outcome is Outcome.FAILURE else Severity.INFO,
        actor=cloudtrail_actor(record.get("userIdentity")),
        action=action,
        source_address=text_of(first_value(record, ("sourceIPAddress",))),
        outcome=outcome,
        message=text_of(message) if message is not None else action,
        labels=_labels(record),
    )


def iter_cloudtrail(stream: Readable) -> Iterator[IncomingEvent]:
    """Events from a CloudTrail log file (gzipped or not), one record at a time."""
    scanner = JsonScanner(file_text_chunks(stream))
    for number, (line, record) in enumerate(scanner.items_under(RECORDS_KEY), start=1):
        if not isinstance(record, dict):
            raise IngestFormatError(
                N_("record %(record)s (line %(line)s) is not a JSON object"),
                line=line,
                params={"record": number, "line": line},
            )
        yield cloudtrail_event(record)
