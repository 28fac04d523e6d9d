"""The optional settings file (UNIFIEDMCP_CONFIG, else ./unifiedmcp.toml): sections as validated
dataclasses, defaults without a file, and errors that name the file, section and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp.config import AlertSettings, config_file_path, load_config_file, load_settings
from unifiedmcp.errors import ConfigError


def test_no_file_gives_the_documented_defaults(isolated_env: Path) -> None:
    """Without UNIFIEDMCP_CONFIG or ./unifiedmcp.toml there is no file and every threshold is its default."""
    path = config_file_path(load_settings().config_file)
    assert path is None
    assert load_config_file(path).alerts == AlertSettings()
    assert AlertSettings().min_payment_success_rate == 0.9 and AlertSettings().max_failed_webhook_events == 0


def test_unifiedmcp_toml_in_the_working_directory_is_read(isolated_env: Path) -> None:
    """./unifiedmcp.toml is picked up by default; keys it leaves out keep their defaults; integers
    are accepted where numbers are expected."""
    (isolated_env / "unifiedmcp.toml").write_text(
        "[alerts]\nmin_payment_success_rate = 0.95\nmax_hours_without_webhook = 6\n")
    cfg = load_config_file(config_file_path(load_settings().config_file))
    assert cfg.path == Path("unifiedmcp.toml")
    assert (cfg.alerts.min_payment_success_rate, cfg.alerts.max_hours_without_webhook) == (0.95, 6.0)
    assert cfg.alerts.max_quota_rejections == AlertSettings().max_quota_rejections


def test_unifiedmcp_config_names_another_file_and_must_exist(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = isolated_env / "ops.toml"
    other.write_text("[alerts]\nmax_failed_webhook_events = 5\n")
    monkeypatch.setenv("UNIFIEDMCP_CONFIG", str(other))
    assert load_config_file(config_file_path(load_settings().config_file)).alerts.max_failed_webhook_events == 5
    monkeypatch.setenv("UNIFIEDMCP_CONFIG", str(isolated_env / "missing.toml"))
    with pytest.raises(ConfigError, match="settings file not found: .*missing.toml"):
        load_config_file(config_file_path(load_settings().config_file))


@pytest.mark.parametrize(("text", "message"), [
    ("[alerts]\nmin_success_rate = 0.9\n", r"\[alerts\]: unknown key\(s\) min_success_rate; known: min_payment_success_rate"),
    ("[alerts]\nmax_quota_rejections = 1.5\n", r"\[alerts\]: max_quota_rejections must be an integer"),
    ("[alerts]\nmax_quota_rejections = true\n", r"\[alerts\]: max_quota_rejections must be an integer"),
    ("[alerts]\nmin_payment_success_rate = 90\n", r"\[alerts\]: min_payment_success_rate must be from 0 to 1"),
    ("[alerts]\nmax_data_age_hours = 0\n", r"\[alerts\]: max_data_age_hours must be greater than 0"),
    ("[alerts]\nmax_failed_webhook_events = -1\n", r"\[alerts\]: max_failed_webhook_events must be at least 0"),
    ("[alert]\n", r"unknown section\(s\) alert; known: alerts"),
    ("alerts = 3\n", r"\[alerts\]: expected a table"),
    ("[alerts\n", r"malformed settings file"),
])
def test_errors_name_the_file_section_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
