"""Settings from environment variables and an optional ``.env`` file.

Secrets are read here and only here. They are held as :class:`pydantic.SecretStr`, so a repr,
a log line or an error message shows ``**********`` instead of the value, and each value read is
handed to :func:`unifiedmcp._secrets.remember_secrets`, so that wherever it comes back (an API
echoing it in an error) it is masked before it leaves the process.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._dsn import is_database_url, url_passwords
from .._secrets import remember_secrets
from ..errors import ConfigError, LiveKeyRefused

__all__ = ["Settings", "load_settings", "LIVE_KEY_PREFIXES"]

LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Where the toolkit keeps its data and how it reaches Stripe.

    ==============================  ==============================================
    environment variable            meaning
    ==============================  ==============================================
    ``UNIFIEDMCP_DATA_DIR``         data directory (default ``./data``)
    ``UNIFIEDMCP_LEDGER``           ledger: a SQLite file (default ``DATA_DIR/ledger.sqlite3``) or a
                                    PostgreSQL URL ``postgresql://user:password@host/db`` (held secret)
    ``UNIFIEDMCP_WAREHOUSE``        DuckDB warehouse (default ``DATA_DIR/warehouse.duckdb``)
    ``UNIFIEDMCP_TIERS_FILE``       TOML file overriding the tier table
    ``UNIFIEDMCP_CONFIG``           settings file (TOML; default ``./unifiedmcp.toml`` if present)
    ``UNIFIEDMCP_ALLOW_LIVE``       ``1`` to accept live Stripe keys
    ``STRIPE_API_KEY``              secret or restricted key (``sk_test_``, ``rk_test_``)
    ``STRIPE_API_BASE``             API base URL, e.g. the local sandbox
    ``STRIPE_ACCOUNT``              connected account id sent as ``Stripe-Account``
    ``STRIPE_WEBHOOK_SECRET``       ``whsec_`` secret(s), comma-separated during rotation
    ``STRIPE_CONNECT_CLIENT_ID``    the operator's Connect client id (``ca_``), for OAuth connections
    ``STRIPE_CONNECT_BASE``         Connect OAuth host (default ``STRIPE_API_BASE`` when set, else
                                    ``https://connect.stripe.com``)
    ``UNIFIEDMCP_SECRET_KEY``       Fernet key(s) encrypting connection credentials, comma-separated
                                    while rotating (the first encrypts)
    ``UNIFIEDMCP_BASE_URL``         public URL of ``unifiedmcp serve`` (OAuth redirect URIs)
    ``UNIFIEDMCP_PSEUDONYM_KEY``    key of the pseudonyms that replace erased customers' ids
                                    (``privacy erase``); never rotated
    ==============================  ==============================================

    ``STRIPE_API_KEY`` is the operator's own account: it bills UnifiedMCP's customers, and only
    operator access (``mcp --operator``, operator keys) uses it for tools. Customers' tools act on
    their own connected accounts (``unifiedmcp.accounts``).
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("data"), validation_alias=_env("UNIFIEDMCP_DATA_DIR", "data_dir"))
    ledger_path: Path | SecretStr | None = Field(
        default=None, validation_alias=_env("UNIFIEDMCP_LEDGER", "ledger_path")
    )
    warehouse_path: Path | None = Field(
        default=None, validation_alias=_env("UNIFIEDMCP_WAREHOUSE", "warehouse_path")
    )
    tiers_file: Path | None = Field(default=None, validation_alias=_env("UNIFIEDMCP_TIERS_FILE", "tiers_file"))
    config_file: Path | None = Field(default=None, validation_alias=_env("UNIFIEDMCP_CONFIG", "config_file"))
    allow_live: bool = Field(default=False, validation_alias=_env("UNIFIEDMCP_ALLOW_LIVE", "allow_live"))
    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("STRIPE_API_KEY", "stripe_api_key")
    )
    stripe_api_base: str | None = Field(
        default=None, validation_alias=_env("STRIPE_API_BASE", "stripe_api_base")
    )
    stripe_account: str | None = Field(default=None, validation_alias=_env("STRIPE_ACCOUNT", "stripe_account"))
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret")
    )
    stripe_connect_client_id: str | None = Field(
        default=None, validation_alias=_env("STRIPE_CONNECT_CLIENT_ID", "stripe_connect_client_id")
    )
    stripe_connect_base: str | None = Field(
        default=None, validation_alias=_env("STRIPE_CONNECT_BASE", "stripe_connect_base")
    )
    secret_key: SecretStr | None = Field(default=None, validation_alias=_env("UNIFIEDMCP_SECRET_KEY", "secret_key"))
    base_url: str | None = Field(default=None, validation_alias=_env("UNIFIEDMCP_BASE_URL", "base_url"))
    pseudonym_key: SecretStr | None = Field(
        default=None, validation_alias=_env("UNIFIEDMCP_PSEUDONYM_KEY", "pseudonym_key")
    )

    @field_validator("ledger_path", mode="before")
    @classmethod
    def _ledger_url(cls, value: object) -> object:
        # A database URL stays text (a Path would fold its //) and secret (it may hold a password).
        if isinstance(value, str):
            return SecretStr(value) if is_database_url(value) else Path(value)
        return value

    @model_validator(mode="after")
    def _remember_secrets(self) -> Settings:
        values = [s.get_secret_value() for s in (self.stripe_api_key, self.stripe_webhook_secret, self.pseudonym_key)
                  if s]
        if isinstance(self.ledger_path, SecretStr):
            values += url_passwords(self.ledger_path.get_secret_value())
        remember_secrets(*values, *(v.strip() for v in values), *self.webhook_secrets)
        return self

    @model_validator(mode="after")
    def _refuse_live_keys(self) -> Settings:
        key = self.stripe_api_key.get_secret_value() if self.stripe_api_key else ""
        if key.startswith(LIVE_KEY_PREFIXES) and not self.allow_live:
            raise LiveKeyRefused("STRIPE_API_KEY")
        return self

    @property
    def ledger(self) -> Path | str:
        """The ledger to open: a SQLite file, or a PostgreSQL URL (with its password)."""
        if isinstance(self.ledger_path, SecretStr):
            return self.ledger_path.get_secret_value()
        return self.ledger_path or self.data_dir / "ledger.sqlite3"

    @property
    def ledger_file(self) -> Path | None:
        """The SQLite ledger file; None when the ledger is a PostgreSQL database."""
        return None if isinstance(self.ledger_path, SecretStr) else self.ledger  # type: ignore[return-value]

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

    @property
    def connect_base(self) -> str:
        """Where Stripe Connect's OAuth endpoints live (the sandbox serves them beside its API)."""
        base = self.stripe_connect_base or self.stripe_api_base or "https://connect.stripe.com"
        return base.rstrip("/")

    @property
    def webhook_secrets(self) -> list[str]:
        """Every configured signing secret (several while one is being rotated)."""
        if self.stripe_webhook_secret is None:
            return []
        raw = self.stripe_webhook_secret.get_secret_value()
        return [s.strip() for s in raw.split(",") if s.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read settings; invalid values raise :class:`ConfigError` naming the field, never its value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        # pydantic's own message embeds the input value, which may be a secret.
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "settings" for e in exc.errors())
        raise ConfigError(f"invalid settings: {fields}") from None
