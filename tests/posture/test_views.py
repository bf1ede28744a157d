"""Cloud posture in the portal and the API: who sees which findings."""

from __future__ import annotations

from datetime import UTC, datetime

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.posture.attribution import AttributionRules
from mamori.posture.service import PostureService
from mamori.posture.snapshot import Resource, Snapshot
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from tests.support.identities import Identities
from tests.support.portal import Portal

A, B = "midori-city-boe", "sakura-town-boe"
ADMIN_A, MEMBER_A = "admin@midori.example.jp", "member@midori.example.jp"
AUDITOR = "auditor@provider.example.jp"
AT = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _bucket(name: str, tags: dict[str, str]) -> Resource:
    arn = f"arn:aws:s3:::{name}"
    return Resource("aws", "111111111111", "ap-northeast-1", "aws.s3.bucket", arn, name, tags)


def _evaluated(database: Database, registry: CheckRegistry) -> None:
    """A snapshot with a half-attributed bucket of each tenant and an orphan, evaluated."""
    snapshot = Snapshot(collected_at=AT)
    snapshot.add(_bucket("midori-half", {"mamori:tenant": A}))
    snapshot.add(_bucket("sakura-half", {"mamori:tenant": B}))
    snapshot.add(_bucket("orphan-bucket", {}))
    with database.session() as session:
        service = PostureService(session)
        row = service.store(snapshot, "test", AttributionRules())
        session.flush()
        run = CommitmentsService(session, registry).evaluate(trigger="test")
        service.record_run(row, run.run_id)


def test_staff_see_every_finding_and_tenant_admins_only_their_own(
    portal: Portal, people: Identities, demo_database: Database, registry: CheckRegistry
) -> None:
    _evaluated(demo_database, registry)
    people.user(AUDITOR, Role.AUDITOR)
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    people.user(MEMBER_A, Role.TENANT_MEMBER, A)
    with portal.client() as client:
        portal.sign_in(client, AUDITOR)
        page = client.get("/posture?lang=en")
        assert page.status_code == 200
        for name in ("midori-half", "sakura-half", "orphan-bucket"):
            assert name in page.text
        assert "Latest snapshot" in page.text
        by_tenant = client.get("/posture?group=tenant&lang=en").text
        assert "Unattributed" in by_tenant
        exported = client.get("/posture/export.csv")
        assert exported.status_code == 200 and "orphan-bucket" in exported.text
        assert client.get("/posture?group=colour").status_code == 400
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        page = client.get("/posture?lang=ja")
        assert page.status_code == 200 and "クラウド構成" in page.text
        assert "midori-half" in page.text
        assert "sakura-half" not in page.text and "orphan-bucket" not in page.text
        assert "Latest snapshot" not in page.text  # coverage is the provider's business
        for export in ("/posture/export.csv", "/posture/export.ocsf.json"):
            body = client.get(export).text
            assert "midori-half" in body and "sakura-half" not in body
    with portal.client() as client:
        portal.sign_in(client, MEMBER_A)
        assert client.get("/posture").status_code == 403


def test_api_lists_findings_in_scope_for_tokens_with_posture_read(
    portal: Portal, people: Identities, demo_database: Database, registry: CheckRegistry
) -> None:
    _evaluated(demo_database, registry)
    admin = people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    with people.work() as services:
        good = tokens.create_token(
            services, admin, name="siem", scopes=["posture:read"], days=30
        ).secret
        wrong = tokens.create_token(
            services, admin, name="other", scopes=["ledger:read"], days=30
        ).secret
    with portal.client() as client:
        response = client.get("/api/v1/posture/findings", headers=_bearer(good))
        assert response.status_code == 200, response.text
        names = {row["resource_id"] for row in response.json()}
        assert names == {"arn:aws:s3:::midori-half"}
        row = response.json()[0]
        assert row["tenant_id"] == A and row["first_seen_at"].startswith("2026-11-20")
        assert client.get("/api/v1/posture/findings", headers=_bearer(wrong)).status_code == 403
        assert client.get("/api/v1/posture/findings").status_code == 401


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
