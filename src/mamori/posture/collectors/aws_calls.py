"""The one place every AWS call goes through: record the answer or the failure.

A successful call is recorded with `SnapshotBuilder.answered` and its digest handed back
so the resources built from it can cite it; a failed one with `SnapshotBuilder.failed`
carrying AWS's error code (e.g. `AccessDenied`) and message. Some error codes are
answers, not failures ("this bucket has no policy"): those are recorded as answered with
the body `{"error": code}` so a check can cite them like any other answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mamori.posture.collectors.base import Failure, SnapshotBuilder
from mamori.posture.snapshot import GLOBAL_REGION, Resource

PROVIDER = "aws"
_XML_ERROR = re.compile(r"<Code>(?P<code>[^<]+)</Code>\s*<Message>(?P<message>[^<]*)</Message>")
# the region whose endpoint serves a global service's calls
GLOBAL_ENDPOINT_REGION = "us-east-1"


@dataclass(frozen=True)
class Answer:
    """A recorded answer: the response body (without metadata) and its raw digest."""

    body: Any
    digest: str
    absent: bool = False  # the answer was "not configured" (an error code that is an answer)


def error_of(exc: Exception) -> Failure:
    """The error code and message of a boto3 exception (or of a call moto lacks)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "ClientError")
        message = str(error.get("Message") or exc)
        embedded = _XML_ERROR.search(message)
        if code.isdigit() and embedded:
            # an XML error body from a JSON service (a gateway or emulator): botocore left
            # only the HTTP status as the code, the real code is inside the message
            return Failure(embedded["code"], embedded["message"])
        return Failure(code, message)
    if isinstance(exc, NotImplementedError):
        return Failure("NotImplemented", str(exc))
    return Failure(type(exc).__name__, str(exc))


def _plain(body: Any) -> Any:
    if isinstance(body, Mapping):
        return {key: value for key, value in body.items() if key != "ResponseMetadata"}
    return body


class Calls:
    """Makes and records the calls for one account, with a client per service and region."""

    def __init__(
        self,
        builder: SnapshotBuilder,
        account: str,
        session: Any,
        config: Config,
    ) -> None:
        self.builder = builder
        self.account = account
        self.session = session
        self.config = config
        self._clients: dict[tuple[str, str], Any] = {}
        # boto3 sessions are not thread-safe when creating clients; clients are
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """The (cached) client for `service` in `region` (global: the global endpoint)."""
        endpoint_region = GLOBAL_ENDPOINT_REGION if region == GLOBAL_REGION else region
        with self._lock:
            key = (service, endpoint_region)
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=endpoint_region, config=self.config
                )
            return self._clients[key]

    def call(
        self,
        region: str,
        service: str,
        operation: str,
        resource: str = "",
        absent: Collection[str] = (),
        redact: Callable[[Any], Any] | None = None,
        **params: Any,
    ) -> Answer | Failure:
        """Call `operation` (boto3 method name) and record the answer or the failure.

        Error codes in `absent` mean "not configured" and are recorded as answers.
        `redact` gives the form of the body to record (secrets removed); the caller
        still gets the whole body.
        """
        client = self.client(service, region)
        return self._record(
            region,
            service,
            _api_name(client, operation),
            resource,
            absent,
            lambda: _plain(getattr(client, operation)(**params)),
            redact,
        )

    def pages(
        self,
        region: str,
        service: str,
        operation: str,
        limit: int | None = None,
        resource: str = "",
        **params: Any,
    ) -> Answer | Failure:
        """All pages of a paginated `operation` merged into one recorded answer."""
        client = self.client(service, region)
        if limit is not None:
            params["PaginationConfig"] = {"MaxItems": limit}

        def fetch() -> Any:
            result = client.get_paginator(operation).paginate(**params).build_full_result()
            return _plain(result)

        return self._record(region, service, _api_name(client, operation), resource, (), fetch)

    def add(
        self,
        region: str,
        kind: str,
        rid: str,
        name: str,
        tags: Mapping[str, str],
        properties: Mapping[str, Any],
        raw: tuple[str, ...],
    ) -> None:
        """Add a normalised resource of this account."""
        self.builder.add(
            Resource(PROVIDER, self.account, region, kind, rid, name, dict(tags), properties, raw)
        )

    def arn(self, service: str, region: str, rest: str) -> str:
        """An ARN-like id of this account: `arn:aws:<service>:<region>:<account>:<rest>`."""
        return f"arn:aws:{service}:{region}:{self.account}:{rest}"

    def _record(
        self,
        region: str,
        service: str,
        operation: str,
        resource: str,
        absent: Collection[str],
        fetch: Callable[[], Any],
        redact: Callable[[Any], Any] | None = None,
    ) -> Answer | Failure:
        try:
            body = fetch()
        except (ClientError, BotoCoreError, NotImplementedError) as exc:
            failure = error_of(exc)
            if failure.code in absent:
                body = {"error": failure.code}
                digest = self._answered(region, service, operation, body, resource)
                return Answer(body, digest, absent=True)
            self.builder.failed(
                PROVIDER,
                self.account,
                region,
                service,
                operation,
                failure.code,
                failure.message,
                resource=resource,
            )
            return failure
        kept = redact(body) if redact is not None else body
        return Answer(body, self._answered(region, service, operation, kept, resource))

    def _answered(self, region: str, service: str, operation: str, body: Any, res: str) -> str:
        return self.builder.answered(
            PROVIDER, self.account, region, service, operation, body, resource=res
        )


def _api_name(client: Any, operation: str) -> str:
    mapping: Mapping[str, str] = client.meta.method_to_api_mapping
    return mapping.get(operation, operation)


def get(data: Any, *path: str) -> Any:
    """`data[path[0]][path[1]]...`, or None where a step is missing."""
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def tag_dict(tags: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """Tags given as a list of {Key, Value} (or a plain mapping) as one dict."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    return {
        str(tag[key]): str(tag.get(value, ""))
        for tag in tags or []
        if isinstance(tag, Mapping) and key in tag
    }


def digests(*answers: Answer | Failure | None) -> tuple[str, ...]:
    """The digests of the answers among `answers` (failures cite nothing), once each."""
    found: list[str] = []
    for answer in answers:
        if isinstance(answer, Answer) and answer.digest not in found:
            found.append(answer.digest)
    return tuple(found)


def region_of_arn(arn: str) -> str | None:
    """The region field of an ARN, or None when it has none."""
    parts = arn.split(":")
    return (parts[3] or None) if len(parts) > 5 else None


def account_of_arn(arn: str) -> str | None:
    """The account field of an ARN, or None when it has none."""
    parts = arn.split(":")
    return (parts[4] or None) if len(parts) > 5 else None
