"""Configuration: settings from the environment and the tier table."""

from ._settings import LIVE_KEY_PREFIXES, Settings, load_settings
from ._tiers import DEFAULT_TIERS, Tier, TierTable, load_tiers

__all__ = ["DEFAULT_TIERS", "LIVE_KEY_PREFIXES", "Settings", "Tier", "TierTable", "load_settings", "load_tiers"]
