"""Configuration: settings from the environment, the optional settings file, and the tier table."""

from ._file import AlertSettings, ConfigFile, RetentionSettings, config_file_path, load_config_file
from ._settings import LIVE_KEY_PREFIXES, Settings, load_settings
from ._tiers import DEFAULT_TIERS, Tier, TierTable, load_tiers

__all__ = [
    "DEFAULT_TIERS",
    "LIVE_KEY_PREFIXES",
    "AlertSettings",
    "ConfigFile",
    "RetentionSettings",
    "Settings",
    "Tier",
    "TierTable",
    "config_file_path",
    "load_config_file",
    "load_settings",
    "load_tiers",
]
