"""spine: provider, services, tenants, clauses, commitments, results

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""

    op.create_table(
        "clauses",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cloud_specific", sa.Boolean(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_clauses")),
    )
    op.create_table(
        "commitments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("owner_role", sa.String(length=32), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitments")),
        sa.UniqueConstraint("position", name=op.f("uq_commitments_position")),
    )
    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("check_count", sa.Integer(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_runs")),
    )
    op.create_table(
        "providers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("head_office_address", sa.JSON(), nullable=False),
        sa.Column("governing_law", sa.JSON(), nullable=False),
        sa.Column("jurisdiction_court", sa.JSON(), nullable=False),
        sa.Column("inquiry_desk", sa.JSON(), nullable=False),
        sa.Column("call_centre", sa.JSON(), nullable=False),
        sa.Column("signatory_title", sa.JSON(), nullable=False),
        sa.Column("signatory_name", sa.JSON(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("purpose", sa.JSON(), nullable=False),
        sa.Column("scope_note", sa.JSON(), nullable=False),
        sa.Column("policy_title", sa.JSON(), nullable=False),
        sa.Column("policy_preamble", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=96), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("message_params", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["evaluation_runs.id"],
            name=op.f("fk_check_results_run_id_evaluation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_results")),
    )
    with op.batch_alter_table("check_results", schema=None) as batch_op:
        batch_op.create_index("ix_check_results_check_run", ["check_id", "run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_results_run_id"), ["run_id"], unique=False)

    op.create_table(
        "commitment_checks",
        sa.Column("commitment_id", sa.String(length=64), nullable=False),
        sa.Column("check_id", sa.String(length=96), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_commitment_checks_commitment_id_commitments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", "check_id", name=op.f("pk_commitment_checks")),
    )
    with op.batch_alter_table("commitment_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_commitment_checks_check_id"), ["check_id"], unique=False
        )

    op.create_table(
        "commitment_clauses",
        sa.Column("commitment_id", sa.String(length=64), nullable=False),
        sa.Column("clause_number", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clause_number"],
            ["clauses.number"],
            name=op.f("fk_commitment_clauses_clause_number_clauses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_commitment_clauses_commitment_id_commitments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "commitment_id", "clause_number", name=op.f("pk_commitment_clauses")
        ),
    )
    op.create_table(
        "policy_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_policy_statements_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_statements")),
    )
    with op.batch_alter_table("policy_statements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_statements_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "responsibility_areas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("commitment_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("area", sa.JSON(), nullable=False),
        sa.Column("provider", sa.JSON(), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("cloud_platform", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_responsibility_areas_commitment_id_commitments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responsibility_areas")),
    )
    with op.batch_alter_table("responsibility_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_responsibility_areas_commitment_id"), ["commitment_id"], unique=False
        )

    op.create_table(
        "tenant_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_contacts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_contacts")),
    )
    with op.batch_alter_table("tenant_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_contacts_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "tenant_services",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_tenant_services_service_id_services"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_services_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "service_id", name=op.f("pk_tenant_services")),
    )
    with op.batch_alter_table("tenant_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_services_service_id"), ["service_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""

    with op.batch_alter_table("tenant_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_services_service_id"))

    op.drop_table("tenant_services")
    with op.batch_alter_table("tenant_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_contacts_tenant_id"))

    op.drop_table("tenant_contacts")
    with op.batch_alter_table("responsibility_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responsibility_areas_commitment_id"))

    op.drop_table("responsibility_areas")
    with op.batch_alter_table("policy_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_statements_provider_id"))

    op.drop_table("policy_statements")
    op.drop_table("commitment_clauses")
    with op.batch_alter_table("commitment_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_checks_check_id"))

    op.drop_table("commitment_checks")
    with op.batch_alter_table("check_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_results_run_id"))
        batch_op.drop_index("ix_check_results_check_run")

    op.drop_table("check_results")
    op.drop_table("tenants")
    op.drop_table("services")
    op.drop_table("providers")
    op.drop_table("evaluation_runs")
    op.drop_table("commitments")
    op.drop_table("clauses")
