"""The optional settings file: TOML, at ``UNIFIEDMCP_CONFIG``, else ``./unifiedmcp.toml`` when
it exists. It holds what is not a secret and not a path: thresholds and policies, by section.

    [alerts]
    min_payment_success_rate = 0.9     # alert below this share of successful payment attempts
    max_failed_webhook_events = 0      # alert above this many failed webhook events
    max_hours_without_webhook = 24     # alert when none arrived for longer, while subscriptions are live
    max_involuntary_churn_rate = 0.05  # alert above this share of subscribers lost to failed payments
    max_quota_rejections = 1000        # alert above this many calls refused by a hard limit
    max_data_age_hours = 48            # alert when the warehouse's newest data is older
    notify_retries = 3                 # further attempts after a failed --notify POST
    notify_timeout_seconds = 10

    [retention]                        # `unifiedmcp retention apply` (docs/privacy.md)
    usage_events_months = 13           # raw usage events of older months become daily totals
    webhook_payload_days = 90          # webhook payloads older than this are purged (id, type, status, times stay)
    rejected_delivery_days = 30        # rejected-delivery counts not seen for longer are deleted

Every key is optional (the defaults above). Each section is read into a frozen dataclass; an
unknown section or key, or a value of the wrong type or range, is a :class:`ConfigError` naming
the file, the section and the key. Secrets never go here: they stay in the environment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "AlertSettings",
    "ConfigFile",
    "RetentionSettings",
    "config_file_path",
    "load_config_file",
    "read_toml",
]

DEFAULT_CONFIG_FILE = Path("unifiedmcp.toml")


def _rate(default: float) -> Any:
    return field(default=default, metadata={"kind": float, "min": 0.0, "max": 1.0})


def _count(default: int) -> Any:
    return field(default=default, metadata={"kind": int, "min": 0})


def _period(default: int) -> Any:
    # 0 would erase everything at once, a slip no retention policy means: at least 1.
    return field(default=default, metadata={"kind": int, "min": 1})


def _positive(default: float) -> Any:
    return field(default=default, metadata={"kind": float, "min": 0.0, "exclusive_min": True})


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of ``unifiedmcp alerts check`` (and of the alerts on the report index)."""

    min_payment_success_rate: float = _rate(0.9)
    max_failed_webhook_events: int = _count(0)
    max_hours_without_webhook: float = _positive(24.0)
    max_involuntary_churn_rate: float = _rate(0.05)
    max_quota_rejections: int = _count(1000)
    max_data_age_hours: float = _positive(48.0)
    notify_retries: int = _count(3)
    notify_timeout_seconds: float = _positive(10.0)


@dataclass(frozen=True)
class RetentionSettings:
    """How long raw records are kept by ``unifiedmcp retention apply``. Usage counts by month:
    events of the current month and of the ``usage_events_months`` before it stay raw."""

    usage_events_months: int = _period(13)
    webhook_payload_days: int = _period(90)
    rejected_delivery_days: int = _period(30)


@dataclass(frozen=True)
class ConfigFile:
    """The settings file's sections (defaults when there is no file: ``path`` is None)."""

    path: Path | None = None
    alerts: AlertSettings = field(default_factory=AlertSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)


_SECTIONS: dict[str, type] = {"alerts": AlertSettings, "retention": RetentionSettings}
_Section = TypeVar("_Section")


def _value(where: str, key: str, raw: object, meta: dict[str, Any]) -> object:
    kind = meta["kind"]
    ok = isinstance(raw, int | float) if kind is float else isinstance(raw, int)
    if not ok or isinstance(raw, bool):
        raise ConfigError(f"{where}: {key} must be {'a number' if kind is float else 'an integer'}")
    low, high = meta.get("min"), meta.get("max")
    too_low = low is not None and (raw <= low if meta.get("exclusive_min") else raw < low)
    if too_low or (high is not None and raw > high):
        bound = f"greater than {low:g}" if meta.get("exclusive_min") else f"at least {low:g}"
        rng = f"from {low:g} to {high:g}" if high is not None else bound
        raise ConfigError(f"{where}: {key} must be {rng}")
    return kind(raw)


def _section(path: Path, name: str, raw: object, cls: type[_Section]) -> _Section:
    where = f"{path}: [{name}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return cls(**{k: _value(where, k, v, dict(known[k].metadata)) for k, v in raw.items()})


def read_toml(path: Path, *, what: str) -> dict[str, Any]:
    """The TOML file at ``path``; a missing, unreadable or malformed one is a ConfigError that
    names ``what`` it is and the path."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.__class__.__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed {what} {path}: {exc}") from None


def config_file_path(configured: Path | None) -> Path | None:
    """The settings file to read: ``configured`` (``UNIFIEDMCP_CONFIG``), else ``./unifiedmcp.toml``
    when it exists, else None."""
    if configured is not None:
        return configured
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_config_file(path: Path | None) -> ConfigFile:
    """Read the settings file at ``path`` (None: defaults). A missing file is an error when named."""
    if path is None:
        return ConfigFile()
    data = read_toml(path, what="settings file")
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(unknown)}; known: {', '.join(_SECTIONS)}")
    sections = {name: _section(Path(path), name, data[name], cls) for name, cls in _SECTIONS.items() if name in data}
    return ConfigFile(path=Path(path), **sections)
