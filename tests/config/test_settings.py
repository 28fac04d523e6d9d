"""Settings: environment and .env, live-key refusal, secrets kept out of reprs and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import ConfigError, LiveKeyRefused, load_settings

SECRET = "sk_test_DO_NOT_LEAK_4242424242"


def test_defaults_put_everything_under_the_data_directory(isolated_env: Path) -> None:
    """With no configuration the ledger and warehouse live in DATA_DIR."""
    s = load_settings()
    assert s.ledger == isolated_env / "data" / "ledger.sqlite3"
    assert s.warehouse == isolated_env / "data" / "warehouse.duckdb"
    assert s.stripe_api_key is None and s.webhook_secrets == []


def test_environment_variables_are_read(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every documented variable reaches its field; webhook secrets split on commas for rotation."""
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(isolated_env / "l.db"))
    monkeypatch.setenv("STRIPE_API_KEY", SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")
    s = load_settings()
    assert s.ledger == isolated_env / "l.db"
    assert s.stripe_api_key.get_secret_value() == SECRET
    assert s.stripe_api_base == "http://127.0.0.1:12111"
    assert s.webhook_secrets == ["whsec_old", "whsec_new"]


def test_dotenv_file_is_read(isolated_env: Path) -> None:
    """A .env in the working directory configures the toolkit like the environment does."""
    (isolated_env / ".env").write_text(f"STRIPE_API_KEY={SECRET}\nUNIFIEDMCP_DATA_DIR=elsewhere\n")
    s = load_settings()
    assert s.stripe_api_key.get_secret_value() == SECRET


def test_secrets_never_appear_in_repr(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """repr() and str() of settings mask the API key and the webhook secret."""
    monkeypatch.setenv("STRIPE_API_KEY", SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_TOPSECRET")
    s = load_settings()
    for text in (repr(s), str(s), repr(s.model_dump())):
        assert SECRET not in text and "TOPSECRET" not in text


# Built at run time so that no live-looking key literal sits in the repository.
@pytest.mark.parametrize("key", [prefix + "live_" + "abcdefghijkl" for prefix in ("sk_", "rk_")])
def test_live_keys_are_refused_unless_allowed(isolated_env: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Live keys need UNIFIEDMCP_ALLOW_LIVE=1; the refusal does not echo the key."""
    monkeypatch.setenv("STRIPE_API_KEY", key)
    with pytest.raises(LiveKeyRefused) as info:
        load_settings()
    assert key not in str(info.value)
    monkeypatch.setenv("UNIFIEDMCP_ALLOW_LIVE", "1")
    assert load_settings().stripe_api_key.get_secret_value() == key


def test_invalid_values_name_the_field_not_the_value(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed setting gives a ConfigError naming the field and hiding the input."""
    monkeypatch.setenv("STRIPE_API_KEY", SECRET)
    monkeypatch.setenv("UNIFIEDMCP_ALLOW_LIVE", "not-a-bool-" + SECRET)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "UNIFIEDMCP_ALLOW_LIVE" in str(info.value) or "allow_live" in str(info.value)
    assert SECRET not in str(info.value)
