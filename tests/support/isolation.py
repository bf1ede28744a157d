"""Walk every route of the app as tenant B with tenant A's ids, and report what leaks.

Routes are taken from the app's router, so a route added later is walked too; a
path parameter the walker has no value for is itself reported, never skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.support.portal import csrf_of

PARAM = re.compile(r"{([a-z_]+)}")
# Parameters that name something of a tenant: other tenants' values must give 404.
TENANT_OWNED = frozenset(
    {"tenant_id", "user_id", "grant_id", "token_id", "analysis_id", "disclosure_id", "alert_id"}
)
# Parameters that name nothing tenant-owned, with the value to use.
MISSING_ID = "00000000-0000-0000-0000-000000000000"
NEUTRAL = {
    "lang": "ja",
    "fmt": "html",
    "action": "end",
    "token": "0" * 32 + ".garbage",
    "size": "1",  # ledger checkpoints are the whole log's, not a tenant's
}


@dataclass(frozen=True)
class Tenant:
    """What the walker knows about the victim tenant A."""

    ids: Mapping[str, str]  # parameter name -> an id belonging to A
    markers: Iterable[str]  # strings that only A's data contains


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every API route of the app, included routers too."""
    return _routes(app.routes, "")


def _routes(candidates: Iterable[object], prefix: str) -> list[tuple[str, str]]:
    found = []
    for route in candidates:
        if isinstance(route, APIRoute):
            found += [(m, prefix + route.path) for m in sorted((route.methods or set()) - {"HEAD"})]
        elif hasattr(route, "original_router") and hasattr(route, "include_context"):
            # FastAPI >= 0.165 keeps included routers nested instead of copying routes.
            nested = prefix + route.include_context.prefix
            found += _routes(route.original_router.routes, nested)
    return found


def walk(
    app: FastAPI, client_b: TestClient, victim: Tenant, csrf_page: str = "/dashboard"
) -> list[str]:
    """Problems found: a route that answers tenant B with tenant A's data or state."""
    problems: list[str] = []
    # Signing out would end B's session for the routes after it: walk it last.
    ordered = sorted(routes(app), key=lambda route: route == ("POST", "/logout"))
    for method, template in ordered:
        names = PARAM.findall(template)
        unknown = [n for n in names if n not in TENANT_OWNED and n not in NEUTRAL]
        if unknown:
            problems.append(f"{method} {template}: no value for {unknown}; teach the walker")
            continue
        path = template
        for name in names:
            value = victim.ids.get(name) if name in TENANT_OWNED else NEUTRAL[name]
            if value is None:
                problems.append(f"{method} {template}: no victim id for {name}")
                break
            path = path.replace("{" + name + "}", value)
        else:
            problems += _check(client_b, method, template, path, names, victim, csrf_page)
    return problems


def _send(client: TestClient, method: str, path: str, csrf_page: str) -> httpx.Response:
    token = csrf_of(client.get(csrf_page).text)
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):
        return client.request(method, path, headers={"x-csrf-token": token}, json={})
    return client.request(method, path, data={"csrf_token": token})


def _check(
    client: TestClient,
    method: str,
    template: str,
    path: str,
    names: list[str],
    victim: Tenant,
    csrf_page: str,
) -> list[str]:
    response = _send(client, method, path, csrf_page)
    owned = [n for n in names if n in TENANT_OWNED]
    if owned and response.status_code != 404:
        # 403 is fine only when the caller may not use the route whatever the id is:
        # then the answer says nothing about tenant A.
        probe = path
        for name in owned:
            probe = probe.replace(str(victim.ids[name]), MISSING_ID)
        if (
            response.status_code != 403
            or _send(client, method, probe, csrf_page).status_code != 403
        ):
            return [f"{method} {template}: {response.status_code} for tenant A's {owned}, want 404"]
    leaked = [m for m in victim.markers if m in response.text]
    if leaked:
        return [f"{method} {template}: shows tenant A's {leaked}"]
    return []
