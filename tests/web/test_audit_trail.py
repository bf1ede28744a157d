"""The audit trail pages through every entry, filters, and keeps tenants to their own."""

from __future__ import annotations

import re

from mamori.core.audit import AuditRecord
from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.tenants.permissions import Role
from tests.support import audit
from tests.support.identities import Identities
from tests.support.portal import Portal

ROW_ACTION = re.compile(r"<td><code>([^<]+)</code></td><td>[^<]* (\d+|[\w-]+)</td>")
NEXT = re.compile(r'<tr class="more"><td colspan="6"><a href="([^"]+)"')


def _fill(database: Database, settings: Settings, count: int, tenant: str, action: str) -> None:
    """`count` entries numbered 0.. in `target_id`, oldest first."""
    audit.record_all(
        database,
        settings,
        (AuditRecord(action, "thing", str(n), tenant, None, "system") for n in range(count)),
    )


def _numbers(html: str, action: str) -> list[int]:
    return [int(target) for act, target in ROW_ACTION.findall(html) if act == action]


def test_officer_pages_through_the_whole_trail_without_gaps(
    portal: Portal, people: Identities, demo_database: Database, settings: Settings
) -> None:
    _fill(demo_database, settings, 250, "midori-city-boe", "test.paged")
    people.user("officer@provider.example.jp", Role.SECURITY_OFFICER)
    seen: list[int] = []
    with portal.client() as client:
        portal.sign_in(client, "officer@provider.example.jp")
        address: str | None = "/audit?action=test."
        pages = 0
        while address:
            response = client.get(address)
            assert response.status_code == 200
            seen += _numbers(response.text, "test.paged")
            found = NEXT.search(response.text)
            address = found.group(1).replace("&amp;", "&") if found else None
            pages += 1
        # htmx asks for the next rows only: no page around them.
        first = client.get("/audit?action=test.")
        link = NEXT.search(first.text)
        assert link
        partial = client.get(link.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        assert "<html" not in partial.text and partial.text.count("<tr>") == 100
        assert partial.headers["vary"] == "HX-Request"
    assert pages == 3
    assert seen == list(range(249, -1, -1))  # newest first, each once


def test_filters_and_tenant_admins_see_only_their_tenant(
    portal: Portal, people: Identities, demo_database: Database, settings: Settings
) -> None:
    _fill(demo_database, settings, 3, "midori-city-boe", "test.midori")
    _fill(demo_database, settings, 3, "sakura-town-boe", "test.sakura")
    people.user("admin@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    people.user("auditor@provider.example.jp", Role.AUDITOR)
    with portal.client() as client:
        portal.sign_in(client, "admin@midori.example.jp")
        own = client.get("/audit?action=test.")
        assert _numbers(own.text, "test.midori") == [2, 1, 0]
        assert "test.sakura" not in own.text
        # Naming another tenant in the filter shows nothing of it.
        other = client.get("/audit?tenant=sakura-town-boe")
        assert "test.sakura" not in other.text and "sakura-town-boe" not in other.text
        api = client.get("/api/v1/audit", params={"action": "test.", "limit": 2})
        assert [e["target_id"] for e in api.json()] == ["2", "1"]
    with portal.client() as client:
        portal.sign_in(client, "auditor@provider.example.jp")
        sakura = client.get("/audit?tenant=sakura-town-boe&action=test.")
        assert _numbers(sakura.text, "test.sakura") == [2, 1, 0]
        assert "test.midori" not in sakura.text
        page_one = client.get("/api/v1/audit", params={"action": "test.", "limit": 4}).json()
        rest = client.get(
            "/api/v1/audit", params={"action": "test.", "before": page_one[-1]["id"]}
        ).json()
        assert len(page_one) == 4 and len(rest) == 2
        assert {e["id"] for e in page_one}.isdisjoint(e["id"] for e in rest)
        assert client.get("/api/v1/audit", params={"limit": 501}).status_code == 422
