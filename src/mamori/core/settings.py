"""The one typed settings object, read from `MAMORI_*` variables and an optional mamori.toml."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Language = Literal["ja", "en"]


def _config_file() -> Path:
    return Path(os.environ.get("MAMORI_CONFIG", "mamori.toml"))


class Settings(BaseSettings):
    """Every knob mamori has; each one is documented in docs/settings.md."""

    model_config = SettingsConfigDict(env_prefix="MAMORI_", extra="forbid")

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the SQLite database, keys and generated outputs.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database. Empty means a SQLite file `mamori.db` in the "
            "data directory; use `postgresql+psycopg://user@host/db` for PostgreSQL."
        ),
    )
    output_dir: Path | None = Field(
        default=None,
        description="Where `mamori demo` writes whitepapers. Empty means `<data_dir>/out`.",
    )
    default_language: Language = Field(
        default="ja", description="Language used when a reader states no preference."
    )
    timezone: str = Field(
        default="Asia/Tokyo", description="Time zone in which dates are shown (stored in UTC)."
    )
    catalog_dir: Path | None = Field(
        default=None,
        description="Catalog directory loaded by `mamori demo`. Empty means the bundled demo.",
    )
    evidence_max_age_hours: int = Field(
        default=48,
        ge=1,
        description="Evidence older than this puts a commitment at risk.",
    )
    host: str = Field(default="127.0.0.1", description="Address the portal listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the portal listens on.")
    pdf_font_family: str = Field(
        default="Noto Sans CJK JP, IPAexGothic",
        description="CSS font-family list used for PDF output; must name an installed CJK font.",
    )
    sql_echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs cookies and encrypts MFA secrets. Empty means a random key kept "
            "in `<data_dir>/secret.key` (created on first use, mode 0600)."
        ),
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Address of the portal as users reach it; used in links sent by mail.",
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A session unused this long ends."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, description="A session ends this long after sign-in, used or not."
    )
    login_lockout_failures: int = Field(
        default=20, ge=3, description="Consecutive wrong passwords that lock an account."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a locked account stays locked."
    )
    login_rate_per_address: int = Field(
        default=30,
        ge=1,
        description="Sign-in attempts allowed per client address in five minutes.",
    )
    grant_max_minutes: int = Field(
        default=480, ge=5, description="Longest staff access grant that can be requested."
    )
    api_token_max_days: int = Field(
        default=365, ge=1, description="Longest lifetime of an API token."
    )
    invitation_hours: int = Field(
        default=72, ge=1, description="How long an invitation link stays valid."
    )
    password_reset_minutes: int = Field(
        default=30, ge=5, description="How long a password reset link stays valid."
    )
    smtp_host: str = Field(default="", description="SMTP server; empty keeps mail in memory.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (required), tls (implicit TLS) or none."
    )
    smtp_username: str = Field(default="", description="SMTP user; empty means no login.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer for staff single sign-on; empty turns SSO off.",
    )
    oidc_client_id: str = Field(default="", description="Client id registered at the issuer.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret registered at the issuer."
    )
    mail_from: str = Field(
        default="mamori@localhost", description="Sender address of mail from mamori."
    )

    ledger_origin: str = Field(
        default="",
        description=(
            "Origin line of the ledger's checkpoints (a schema-less URL naming this log). "
            "Empty means `<public_url host>/mamori-ledger`."
        ),
    )
    ledger_checkpoint_minutes: int = Field(
        default=60, ge=1, description="How often a checkpoint is published for cosigning."
    )
    ingest_max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest ingest request body accepted (compressed size); larger gets 413.",
    )
    ingest_max_events: int = Field(
        default=100_000, ge=1, description="Most events one ingest request may carry."
    )

    ingest_max_concurrent: int = Field(
        default=4,
        ge=1,
        description="Ingest requests one web process admits at once (stored one after another);"
        " more wait"
        " briefly, then get 503.",
    )
    ingest_requests_per_minute: int = Field(
        default=1200, ge=1, description="Ingest requests one API token may make per minute."
    )
    ingest_token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a server process answers an ingest token it identified from"
        " memory (a revocation takes effect on other processes within it; 0 turns it off).",
    )
    ledger_attribution_file: Path | None = Field(
        default=None,
        description="YAML rules placing provider-sent events in tenants and services.",
    )
    posture_attribution_file: Path | None = Field(
        default=None,
        description="YAML rules assigning cloud resources to services and tenants "
        "(docs/posture.md).",
    )
    posture_sources_file: Path | None = Field(
        default=None,
        description="YAML naming the AWS accounts (with assume-role ARNs) and Azure "
        "subscriptions `mamori posture collect` reads; credentials come from the "
        "environment (AWS's and Azure's default credential chains).",
    )
    posture_collect_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 7,
        description="Hours between the worker's posture collections (when a sources file is set).",
    )
    alert_recipients: str = Field(
        default="",
        description="Comma-separated on-call addresses that receive every security alert.",
    )
    detection_rules_file: Path | None = Field(
        default=None,
        description="YAML detection rules replacing the shipped set. Empty means the shipped set.",
    )
    geoip_files: str = Field(
        default="/usr/share/GeoIP/GeoIP.dat,/usr/share/GeoIP/GeoIPv6.dat",
        description=(
            "GeoIP legacy country databases, IPv4 then optionally IPv6, comma-separated; "
            "empty turns country lookups off."
        ),
    )

    worker_in_serve: bool = Field(
        default=True,
        description="Run the scheduled jobs in a thread of `mamori serve` (one machine).",
    )
    serve_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Web server processes `mamori serve` starts on one port (rate limits and"
        " ingest slots are per process).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then environment, then mamori.toml.
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mamori.db').resolve()}"

    @property
    def resolved_ledger_origin(self) -> str:
        """The checkpoint origin line."""
        if self.ledger_origin:
            return self.ledger_origin
        host = self.public_url.split("://", 1)[-1].rstrip("/")
        return f"{host}/mamori-ledger"

    @property
    def resolved_output_dir(self) -> Path:
        """Where generated documents go."""
        return self.output_dir or self.data_dir / "out"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
