"""The tier table: metrics.md §6 defaults, TOML overrides, and the price → tier mapping order."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import DEFAULT_TIERS, ConfigError, load_tiers


def test_defaults_are_the_product_plans() -> None:
    """free 100 hard / 1 connection; pro 10,000 soft at 0.2¢; enterprise 100,000 soft at 0.1¢."""
    free, pro, ent = (DEFAULT_TIERS[n] for n in ("free", "pro", "enterprise"))
    assert (free.monthly_api_calls, free.oauth_connections, free.hard_limit, free.overage_per_call) == (100, 1, True, 0)
    assert (pro.monthly_api_calls, pro.oauth_connections, pro.hard_limit, pro.overage_per_call) == (10_000, None, False, 0.2)
    assert (ent.monthly_api_calls, ent.oauth_connections, ent.hard_limit, ent.overage_per_call) == (100_000, None, False, 0.1)
    assert DEFAULT_TIERS.default is free
    assert DEFAULT_TIERS.next_above("free") is pro and DEFAULT_TIERS.next_above("enterprise") is None


def test_price_mapping_follows_the_documented_order() -> None:
    """price.metadata.tier beats product metadata, which beats the configured ids and lookup keys."""
    t = DEFAULT_TIERS
    assert t.for_price({"id": "price_x", "metadata": {"tier": "enterprise"}, "product": {"metadata": {"tier": "pro"}}}).name == "enterprise"
    assert t.for_price({"id": "price_pro_monthly", "metadata": {}, "product": {"metadata": {"tier": "enterprise"}}}).name == "enterprise"
    assert t.for_price({"id": "price_x", "product": "prod_1"}, product_metadata={"tier": "pro"}).name == "pro"
    assert t.for_price("price_enterprise_monthly").name == "enterprise"
    assert t.for_price({"id": "price_y", "lookup_key": "pro_monthly"}).name == "pro"
    assert t.for_price({"id": "price_unknown", "metadata": {"tier": "platinum"}}) is None


def test_toml_file_overrides_the_table(tmp_path: Path) -> None:
    """A tier file replaces the table, in file order, with unlimited connections spelled out."""
    f = tmp_path / "tiers.toml"
    f.write_text(
        '[tiers.hobby]\nmonthly_api_calls = 50\noauth_connections = 2\nlimit = "hard"\n'
        '[tiers.team]\nmonthly_api_calls = 5000\noauth_connections = "unlimited"\nlimit = "soft"\n'
        'overage_per_call = 0.5\nprices = ["price_team"]\n'
    )
    t = load_tiers(f)
    assert t.names == ["hobby", "team"]
    assert t["hobby"].hard_limit and t["hobby"].oauth_connections == 2
    assert t["team"].overage_per_call == 0.5 and t.for_price("price_team").name == "team"


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("not = [valid", "malformed tier file"),
        ("[other]\nx = 1\n", "expected [tiers.<name>]"),
        ('[tiers.free]\nmonthly_api_calls = -1\n', "monthly_api_calls"),
        ('[tiers.free]\nmonthly_api_calls = 1\nlimit = "maybe"\n', "limit"),
        ('[tiers.free]\nmonthly_api_calls = 1\ncolour = "red"\n', "unknown key"),
        ('[tiers.pro]\nmonthly_api_calls = 1\noverage_per_call = nan\n', "'pro': overage_per_call must be a finite"),
        ('[tiers.pro]\nmonthly_api_calls = 1\noverage_per_call = inf\n', "'pro': overage_per_call must be a finite"),
        ('[tiers.pro]\nmonthly_api_calls = 1\noverage_per_call = -0.2\n', "'pro': overage_per_call must be"),
        ('[tiers.pro]\nmonthly_api_calls = 1\noverage_per_call = 1e9\n', "overage_per_call must be a finite number from 0 to 1,000,000 .*not 1000000000.0"),
        ('[tiers.pro]\nmonthly_api_calls = 10_000_000_000_000\n', "monthly_api_calls must be an integer from 0 to 1,000,000,000,000"),
        ('[tiers.pro]\nmonthly_api_calls = 1\noauth_connections = 99_999_999\n', "oauth_connections must be an integer from 0 to 1,000,000"),
        ('[tiers.pro]\nmonthly_api_calls = 1\nprices = ["p_shared", "p_pro"]\n'
         '[tiers.team]\nmonthly_api_calls = 2\nprices = ["p_shared"]\n',
         "price 'p_shared' is listed under tiers 'pro' and 'team'"),
    ],
)
def test_malformed_tier_files_give_a_clear_error(tmp_path: Path, content: str, fragment: str) -> None:
    """Each kind of mistake is named in one ConfigError line."""
    f = tmp_path / "tiers.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        load_tiers(f)


def test_missing_tier_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_tiers(tmp_path / "absent.toml")
