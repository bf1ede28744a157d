"""The one place every Azure call goes through: record the answer or the failure.

A successful call is recorded with `SnapshotBuilder.answered` and its digest handed back
so the resources built from it can cite it; a failed one with `SnapshotBuilder.failed`,
carrying the ARM error code (e.g. `AuthorizationFailed`) and message. Bodies are kept in
the REST (ARM JSON) shape whichever generation of SDK model produced them, so a raw
response reads like the wire answer and the normalisers read one shape only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    AzureError,
    DeserializationError,
    HttpResponseError,
    SerializationError,
)
from azure.core.rest import HttpRequest

from mamori.posture.collectors.base import Failure, SnapshotBuilder
from mamori.posture.snapshot import GLOBAL_REGION

PROVIDER = "azure"


def rest_body(model: Any) -> Any:
    """The ARM JSON form of an SDK model (or of plain JSON, returned as is)."""
    if model is None or isinstance(model, str | int | float | bool | list | dict):
        return model
    serialize = getattr(model, "serialize", None)
    if callable(serialize):
        # msrest-style models: as_dict() would give Python attribute names, not ARM's
        return serialize(keep_readonly=True)
    return model.as_dict()


@dataclass(frozen=True)
class Answer:
    """A recorded answer: its ARM JSON body and the digest of the raw response."""

    body: Any
    digest: str


def error_of(exc: Exception) -> Failure:
    """The error code and message of an SDK or transport exception."""
    if isinstance(exc, HttpResponseError):
        code = getattr(exc.error, "code", None) or _body_code(exc) or str(exc.status_code)
        message = getattr(exc.error, "message", None) or exc.message or str(exc)
        return Failure(str(code), str(message))
    return Failure(type(exc).__name__, str(exc))


def _body_code(exc: HttpResponseError) -> str | None:
    try:
        data = json.loads(exc.response.text()) if exc.response is not None else None
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("code")) if isinstance(error, dict) and error.get("code") else None


class Calls:
    """Records the calls made for one subscription."""

    def __init__(self, builder: SnapshotBuilder, subscription: str) -> None:
        self.builder = builder
        self.subscription = subscription

    def listing(
        self, service: str, operation: str, fetch: Callable[[], Iterable[Any]]
    ) -> tuple[list[dict[str, Any]], str] | None:
        """All items of a (paged) listing and the digest of the recorded answer.

        None when the call failed: the failure is recorded and the caller produces no
        resources of that kind (the checks report the failed listing as unknown).
        """
        answer = self.call(service, operation, lambda: {"value": [rest_body(i) for i in fetch()]})
        if isinstance(answer, Failure):
            return None
        items = answer.body.get("value") if isinstance(answer.body, dict) else None
        return [item for item in items or [] if isinstance(item, dict)], answer.digest

    def call(
        self,
        service: str,
        operation: str,
        fetch: Callable[[], Any],
        resource: str = "",
        region: str = GLOBAL_REGION,
    ) -> Answer | Failure:
        """Make one call and record its answer or its failure."""
        try:
            body = rest_body(fetch())
        # an answer the SDK cannot read is a failed call too, not a crash of the run
        except (AzureError, DeserializationError, SerializationError) as exc:
            failure = error_of(exc)
            self.builder.failed(
                PROVIDER,
                self.subscription,
                region,
                service,
                operation,
                failure.code,
                failure.message,
                resource=resource,
            )
            return failure
        digest = self.builder.answered(
            PROVIDER, self.subscription, region, service, operation, body, resource=resource
        )
        return Answer(body, digest)


def raw_get(client: Any, url: str) -> dict[str, Any]:
    """GET an ARM URL through an SDK client's pipeline, following `nextLink` pages.

    Used where no installed SDK has the operation (diagnostic settings, subscriptions,
    policy definitions); the client brings authentication, retries and the base URL.
    """
    items: list[Any] = []
    body: dict[str, Any] = {}
    next_url: str | None = url
    while next_url:
        # older generated clients (monitor) only have the private spelling
        send = getattr(client, "send_request", None) or client._send_request
        response = send(HttpRequest("GET", next_url))
        if response.status_code >= 400:
            raise HttpResponseError(response=response)
        body = response.json()
        if "value" not in body:
            return dict(body)
        items += body.get("value") or []
        next_url = body.get("nextLink")
    return {"value": items}


def get(data: Any, *path: str) -> Any:
    """`data[path[0]][path[1]]...`, or None where a step is missing."""
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def ids(items: Any) -> list[str]:
    """The `id` of each sub-resource reference in `items`."""
    return [str(item["id"]) for item in items or [] if isinstance(item, Mapping) and "id" in item]


def resource_group(item: Mapping[str, Any]) -> str:
    """The resource group named in an ARM item's id."""
    parts = str(item.get("id", "")).split("/")
    lowered = [part.lower() for part in parts]
    if "resourcegroups" in lowered:
        index = lowered.index("resourcegroups")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""


def listed(operation: Callable[..., Iterable[Any]], *args: Any) -> dict[str, Any]:
    """A paged per-resource listing as one ARM-shaped answer `{"value": [...]}`."""
    return {"value": [rest_body(item) for item in operation(*args)]}
