"""Tables of the provider profile, its services and its tenants."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori.core.clock import utcnow
from mamori.core.db import Base
from mamori.core.text import LText, LTextType


class Provider(Base):
    """The cloud service provider whose whitepaper mamori publishes (one row)."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[LText] = mapped_column(LTextType)
    head_office_address: Mapped[LText] = mapped_column(LTextType)
    governing_law: Mapped[LText] = mapped_column(LTextType)
    jurisdiction_court: Mapped[LText] = mapped_column(LTextType)
    inquiry_desk: Mapped[dict[str, Any]] = mapped_column(JSON)
    call_centre: Mapped[dict[str, Any]] = mapped_column(JSON)
    signatory_title: Mapped[LText] = mapped_column(LTextType)
    signatory_name: Mapped[LText] = mapped_column(LTextType)
    effective_date: Mapped[date] = mapped_column(Date)
    purpose: Mapped[LText] = mapped_column(LTextType)
    scope_note: Mapped[LText] = mapped_column(LTextType)
    policy_title: Mapped[LText] = mapped_column(LTextType)
    policy_preamble: Mapped[LText] = mapped_column(LTextType)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    policy_statements: Mapped[list[PolicyStatement]] = relationship(
        order_by="PolicyStatement.position", cascade="all, delete-orphan"
    )


class PolicyStatement(Base):
    """One statement of the provider's basic cloud security policy."""

    __tablename__ = "policy_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[LText] = mapped_column(LTextType)


class Service(Base):
    """A cloud service in the scope of the whitepaper."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[LText] = mapped_column(LTextType)
    description: Mapped[LText] = mapped_column(LTextType)
    platforms: Mapped[list[str]] = mapped_column(JSON)
    regions: Mapped[list[str]] = mapped_column(JSON)
    endpoints: Mapped[list[str]] = mapped_column(JSON)


class Tenant(Base):
    """A customer of the provider."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[LText] = mapped_column(LTextType)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    subscriptions: Mapped[list[TenantService]] = relationship(cascade="all, delete-orphan")
    contacts: Mapped[list[TenantContact]] = relationship(
        order_by="TenantContact.position", cascade="all, delete-orphan"
    )


class TenantService(Base):
    """A tenant's subscription to a service."""

    __tablename__ = "tenant_services"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class TenantContact(Base):
    """A person at a tenant whom the provider contacts (security, technical, …)."""

    __tablename__ = "tenant_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[LText] = mapped_column(LTextType)
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(2), default="ja")
