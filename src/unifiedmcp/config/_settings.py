"""Settings from environment variables and an optional ``.env`` file.

Secrets are read here and only here. They are held as :class:`pydantic.SecretStr`, so a repr,
a log line or an error message shows ``**********`` instead of the value.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    ``UNIFIEDMCP_LEDGER``           ledger SQLite file (default ``DATA_DIR/ledger.sqlite3``)
    ``UNIFIEDMCP_WAREHOUSE``        DuckDB warehouse (default ``DATA_DIR/warehouse.duckdb``)
    ``UNIFIEDMCP_TIERS_FILE``       TOML file overriding the tier table
    ``UNIFIEDMCP_CONFIG``           settings file (TOML; default ``./unifiedmcp.toml`` if present)
    ``UNIFIEDMCP_ALLOW_LIVE``       ``1`` to accept live Stripe keys
    ``STRIPE_API_KEY``              secret or restricted key (``sk_test_``, ``rk_test_``)
    ``STRIPE_API_BASE``             API base URL, e.g. the local sandbox
    ``STRIPE_ACCOUNT``              connected account id sent as ``Stripe-Account``
    ``STRIPE_WEBHOOK_SECRET``       ``whsec_`` secret(s), comma-separated during rotation
    ==============================  ==============================================
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("data"), validation_alias=_env("UNIFIEDMCP_DATA_DIR", "data_dir"))
    ledger_path: Path | None = Field(default=None, validation_alias=_env("UNIFIEDMCP_LEDGER", "ledger_path"))
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

    @model_validator(mode="after")
    def _refuse_live_keys(self) -> Settings:
        key = self.stripe_api_key.get_secret_value() if self.stripe_api_key else ""
        if key.startswith(LIVE_KEY_PREFIXES) and not self.allow_live:
            raise LiveKeyRefused("STRIPE_API_KEY")
        return self

    @property
    def ledger(self) -> Path:
        return self.ledger_path or self.data_dir / "ledger.sqlite3"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_path or self.data_dir / "warehouse.duckdb"

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
