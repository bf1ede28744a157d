"""Access grant flow through the portal: request → second approval → recorded read →
visible on the tenant's transparency page → expiry ends access with no job running."""

from __future__ import annotations

import re

from mamori.tenants.permissions import Role
from tests.support.identities import Identities
from tests.support.portal import Portal

TENANT = "midori-city-boe"


def test_grant_flow(portal: Portal, people: Identities) -> None:
    people.user("op@provider.example.jp", Role.OPERATOR)
    people.user("so@provider.example.jp", Role.SECURITY_OFFICER)
    people.user("admin@midori.example.jp", Role.TENANT_ADMIN, TENANT)
    contact = _first_contact_email(people)

    with portal.client() as operator:
        portal.sign_in(operator, "op@provider.example.jp")
        assert contact not in operator.get(f"/tenants/{TENANT}").text  # no standing access
        response = portal.post(
            operator,
            "/grants",
            {"tenant_id": TENANT, "reason": "Ticket 4711: sign-in trouble", "minutes": "60"},
            page="/grants",
        )
        assert response.status_code == 303
        grant_id = re.search(r"/grants/([0-9a-f-]{36})/", operator.get("/grants").text)
        # The requester gets no approve button for their own request.
        assert grant_id is None

    with portal.client() as officer:
        portal.sign_in(officer, "so@provider.example.jp")
        listing = officer.get("/grants").text
        found = re.search(r"/grants/([0-9a-f-]{36})/approve", listing)
        assert found, "the second officer sees the request"
        assert (
            portal.post(officer, f"/grants/{found.group(1)}/approve", page="/grants").status_code
            == 303
        )

    with portal.client() as operator:
        portal.sign_in(operator, "op@provider.example.jp")
        page = operator.get(f"/tenants/{TENANT}")
        assert contact in page.text  # access under the grant
        assert operator.get(f"/api/v1/tenants/{TENANT}/contacts").status_code == 200

    with portal.client() as customer:
        portal.sign_in(customer, "admin@midori.example.jp")
        transparency = customer.get("/transparency?lang=en").text
        assert "Ticket 4711: sign-in trouble" in transparency
        assert f"/tenants/{TENANT}" in transparency
        assert f"/api/v1/tenants/{TENANT}/contacts" in transparency
        assert "op" in transparency

    portal.clock.advance(minutes=61)  # nothing runs: the clock alone passes the end
    with portal.client() as operator:
        portal.sign_in(operator, "op@provider.example.jp")
        assert contact not in operator.get(f"/tenants/{TENANT}").text
        assert operator.get(f"/api/v1/tenants/{TENANT}/contacts").status_code == 404
    with portal.client() as customer:
        portal.sign_in(customer, "admin@midori.example.jp")
        assert "Expired" in customer.get("/transparency?lang=en").text


def _first_contact_email(people: Identities) -> str:
    from mamori.core.scope import TenantScope

    with people.work() as services:
        tenant = services.repository.tenant(TENANT, TenantScope.everything())
        assert tenant is not None and tenant.contacts
        return tenant.contacts[0].email
