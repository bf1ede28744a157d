"""`mamori users …`: invite accounts, list them, print the permission table."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from mamori.cli.support import audit_trail, console, handles_errors, lang, opened, say
from mamori.core.i18n import N_, Lang, translate
from mamori.core.mail.factory import notifier_from_settings
from mamori.core.scope import Principal, TenantScope
from mamori.core.settings import Settings
from mamori.tenants.permissions import PERMISSIONS, ROLE_LABELS, STAFF_ROLES, Permission, Role
from mamori.tenants.service import accounts
from mamori.tenants.service.context import services_for

users_app = typer.Typer(help="Accounts of provider staff and customers.", no_args_is_help=True)

# The command line acts with the operator's shell access, recorded as such in the trail.
CLI_PRINCIPAL = Principal(
    user_id="cli",
    email="mamori-cli",
    display_name="mamori CLI",
    role=Role.ADMINISTRATOR.value,
    tenant_id=None,
    permissions=frozenset(p.value for p in Permission),
    address="local",
)


@users_app.command("invite")
@handles_errors
def invite(
    email: Annotated[str, typer.Option("--email", help="E-mail address of the new account.")],
    role: Annotated[Role, typer.Option("--role", help="Role of the new account.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant id (customer roles only).")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
) -> None:
    """Create an account and print (and mail) its one-time sign-up link."""
    with opened() as (settings, database, _registry), database.session() as session:
        services = services_for(
            session, settings, notifier_from_settings(settings), audit_trail(settings)
        )
        acting = CLI_PRINCIPAL
        if role not in STAFF_ROLES:
            # Customer accounts are invited as that tenant's administrator would be.
            acting = replace(CLI_PRINCIPAL, tenant_id=tenant)
        link = accounts.invite(
            services,
            acting,
            email=email,
            display_name=name or email,
            role=role,
            tenant_id=tenant,
        )
    console.print(
        say(N_("Sign-up link (valid once): %(url)s"), url=link.url), highlight=False, soft_wrap=True
    )


@users_app.command("list")
@handles_errors
def list_users() -> None:
    """Every account with its role and tenant."""
    with opened() as (_settings, database, _registry), database.session() as session:
        from mamori.tenants.identity_repository import IdentityRepository

        repository = IdentityRepository(session)
        rows = [*repository.users(TenantScope.everything(), staff=True)]
        rows += repository.users(TenantScope.everything(), staff=False)
        table = Table(title=say(N_("Users")))
        for column in (N_("E-mail address"), N_("Role"), N_("Tenant"), N_("Two-step verification")):
            table.add_column(say(column))
        for user in rows:
            table.add_row(
                user.email,
                say(ROLE_LABELS.get(Role(user.role), user.role)),
                user.tenant_id or "—",
                say(N_("On")) if user.totp_enabled else say(N_("Off")),
            )
    console.print(table)


def permission_table_markdown(language: str = "en") -> str:
    """The role × permission table as Markdown (docs/permissions.md is generated from it)."""
    code: Lang = "ja" if language == "ja" else "en"
    roles = list(Role)
    header = "| permission | " + " | ".join(translate(code, ROLE_LABELS[r]) for r in roles) + " |"
    lines = [header, "|---|" + "---|" * len(roles)]
    for permission in Permission:
        marks = " | ".join("✓" if permission in PERMISSIONS[r] else "" for r in roles)
        lines.append(f"| `{permission.value}` | {marks} |")
    return "\n".join(lines) + "\n"


@users_app.command("permissions")
def permissions() -> None:
    """Print the permission table (Markdown)."""
    console.print(permission_table_markdown(lang()), markup=False, highlight=False, soft_wrap=True)


DEMO_ACCOUNTS = (
    ("admin@mamori-demo.example.jp", Role.ADMINISTRATOR, None),
    ("officer@mamori-demo.example.jp", Role.SECURITY_OFFICER, None),
    ("admin@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe"),
)


def invite_demo_accounts(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """Invite the demo accounts that do not exist yet; (email, sign-up link) for each."""
    from mamori.tenants.identity_repository import IdentityRepository

    services = services_for(
        session, settings, notifier_from_settings(settings), audit_trail(settings)
    )
    links = []
    for email, role, tenant in DEMO_ACCOUNTS:
        if IdentityRepository(session).user_by_email(email) is not None:
            continue
        acting = CLI_PRINCIPAL if tenant is None else replace(CLI_PRINCIPAL, tenant_id=tenant)
        link = accounts.invite(
            services, acting, email=email, display_name=email, role=role, tenant_id=tenant
        )
        links.append((email, link.url))
    return links
