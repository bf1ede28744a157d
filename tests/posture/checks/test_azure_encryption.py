"""Azure encryption at rest and in transit."""

from __future__ import annotations

from mamori.posture.snapshot import unknown
from tests.posture.azure_recordings import collected, outcomes
from tests.posture.support import azure, run_check, snapshot_of


def test_disk_without_encryption_fails() -> None:
    assert outcomes(run_check("azure_disk_encrypted", collected())) == {
        "disk-ok": "pass",
        "disk-plain": "fail",
    }


def test_sql_tde_off_fails() -> None:
    assert outcomes(run_check("azure_sql_tde_enabled", collected())) == {
        "db-ok": "pass",
        "db-plain": "fail",
    }


def test_storage_encryption() -> None:
    assert set(outcomes(run_check("azure_storage_encrypted", collected())).values()) == {"pass"}
    accounts = [
        azure("storage.account", "off", encryption_enabled=False),
        azure("storage.account", "unread", encryption_enabled=unknown("AuthorizationFailed: no")),
    ]
    assert outcomes(run_check("azure_storage_encrypted", snapshot_of(accounts))) == {
        "off": "fail",
        "unread": "unknown",
    }


def test_storage_https_and_tls() -> None:
    found = outcomes(run_check("azure_storage_secure_transfer", collected()))
    assert found["sthttp"] == "fail" and found["stjpok"] == "pass"
    tls11 = azure("storage.account", "tls11", https_only=True, minimum_tls_version="TLS1_1")
    assert outcomes(run_check("azure_storage_secure_transfer", snapshot_of([tls11]))) == {
        "tls11": "fail"
    }
    lenient = {"minimum_tls_version": "1.1"}
    assert outcomes(run_check("azure_storage_secure_transfer", snapshot_of([tls11]), lenient)) == {
        "tls11": "pass"
    }


def test_app_service_https_and_tls() -> None:
    assert outcomes(run_check("azure_web_https_tls", collected())) == {
        "app-ok": "pass",
        "app-http": "fail",
    }
    site = azure(
        "web.site", "s", https_only=True, min_tls_version=unknown("AuthorizationFailed: no")
    )
    assert outcomes(run_check("azure_web_https_tls", snapshot_of([site]))) == {"s": "unknown"}


def test_sql_server_tls() -> None:
    assert outcomes(run_check("azure_sql_minimum_tls", collected())) == {
        "sql-jp": "pass",
        "sql-old": "fail",
    }
    unset = azure("sql.server", "unset", minimal_tls_version=None)
    assert outcomes(run_check("azure_sql_minimum_tls", snapshot_of([unset]))) == {"unset": "fail"}
    modern = {"minimum_tls_version": "1.3"}
    assert outcomes(run_check("azure_sql_minimum_tls", collected(), modern))["sql-jp"] == "fail"


def test_a_server_whose_databases_are_unreadable_is_unknown() -> None:
    from mamori.posture.snapshot import CoverageEntry

    server = azure("sql.server", "srv", minimal_tls_version="1.2")
    failed = CoverageEntry(
        "azure",
        "sub-1",
        "japaneast",
        "sql",
        "databases.list_by_server",
        False,
        "AuthorizationFailed",
        "no",
        server.id,
    )
    assert outcomes(run_check("azure_sql_tde_enabled", snapshot_of([server], [failed]))) == {
        "srv": "unknown"
    }
