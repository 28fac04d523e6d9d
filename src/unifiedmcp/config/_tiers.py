"""The tier table (metrics.md §6): limits, overage prices and how a Stripe price maps to a tier.

The defaults are the product's plans. A TOML file (``UNIFIEDMCP_TIERS_FILE``) may override them::

    [tiers.pro]
    monthly_api_calls = 20000
    oauth_connections = "unlimited"
    limit = "soft"
    overage_per_call = 0.2          # minor units (cents) per call past the limit
    prices = ["price_pro_monthly", "pro_monthly", "pro_yearly"]   # price ids or lookup keys

Tiers are ranked in file order (the default order is free < pro < enterprise); the first tier is
the one a customer without a paid subscription has.

Bounds, so that every sum the ledger and the metrics make stays a 64-bit integer: at most
MAX_MONTHLY_CALLS calls a month (10^12), MAX_CONNECTIONS connections (10^6), and an overage of
at most MAX_OVERAGE minor units per call (10^6), a finite number. A price id or lookup key
belongs to one tier only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ._file import read_toml

__all__ = ["Tier", "TierTable", "DEFAULT_TIERS", "load_tiers"]

LimitKind = Literal["hard", "soft"]

MAX_MONTHLY_CALLS = 10**12  # about 385,000 calls/s all month
MAX_CONNECTIONS = 10**6
MAX_OVERAGE = 10**6  # minor units per call (10,000.00 in the major unit)


@dataclass(frozen=True)
class Tier:
    name: str
    monthly_api_calls: int
    oauth_connections: int | None  # None means unlimited
    limit: LimitKind
    overage_per_call: float  # minor units per call past the limit; 0 for hard limits
    rank: int
    prices: tuple[str, ...] = field(default=())  # price ids and lookup keys of this tier

    @property
    def hard_limit(self) -> bool:
        return self.limit == "hard"


@dataclass(frozen=True)
class TierTable:
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ConfigError("tier table is empty")

    @property
    def default(self) -> Tier:
        """The tier of a customer with no paid subscription (the lowest rank)."""
        return self.tiers[0]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def __getitem__(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name == name:
                return t
        raise ConfigError(f"unknown tier {name!r}; known tiers: {', '.join(self.names)}")

    def __contains__(self, name: object) -> bool:
        return any(t.name == name for t in self.tiers)

    def next_above(self, name: str) -> Tier | None:
        rank = self[name].rank
        higher = [t for t in self.tiers if t.rank > rank]
        return min(higher, key=lambda t: t.rank) if higher else None

    def highest(self, names: Iterable[str]) -> Tier:
        known = [self[n] for n in names]
        return max(known, key=lambda t: t.rank) if known else self.default

    def for_price(
        self,
        price: Mapping[str, Any] | str,
        *,
        product_metadata: Mapping[str, Any] | None = None,
    ) -> Tier | None:
        """The tier a Stripe price maps to, in metrics.md §6 order, or None.

        ``price`` is a price object (dict) or a bare price id. The product's metadata is read from
        an expanded ``price["product"]`` or from ``product_metadata``. Reports use this (the
        operator's own data); what a customer may use is decided by :meth:`for_catalog_price`.
        """
        if isinstance(price, str):
            price = {"id": price}
        tier = (price.get("metadata") or {}).get("tier")
        if tier in self:
            return self[tier]
        product = price.get("product")
        meta = product_metadata
        if meta is None and isinstance(product, Mapping):
            meta = product.get("metadata")
        tier = (meta or {}).get("tier")
        if tier in self:
            return self[tier]
        return self.for_catalog_price(price)

    def for_catalog_price(self, price: Mapping[str, Any] | str, catalog: Mapping[str, str] | None = None) -> Tier | None:
        """The tier of a price the operator's catalog knows, or None; metadata is never read.

        A price is known by its id in ``catalog`` (price id -> tier, as ``catalog ensure``
        recorded them in the ledger) or by its id or lookup key in a tier's ``prices``. This is
        what may grant access (architecture.md, "Tenancy"): whoever can write a price's metadata
        must not be able to choose a tier with it.
        """
        if isinstance(price, str):
            price = {"id": price}
        name = (catalog or {}).get(price.get("id") or "")
        if name in self:
            return self[name]
        for key in (price.get("id"), price.get("lookup_key")):
            if key:
                for t in self.tiers:
                    if key in t.prices:
                        return t
        return None


DEFAULT_TIERS = TierTable(
    (
        Tier("free", 100, 1, "hard", 0.0, 0, ()),
        Tier("pro", 10_000, None, "soft", 0.2, 1, ("price_pro_monthly", "pro_monthly", "pro_yearly")),
        Tier(
            "enterprise",
            100_000,
            None,
            "soft",
            0.1,
            2,
            ("price_enterprise_monthly", "enterprise_monthly", "enterprise_yearly"),
        ),
    )
)


def _parse_tier(name: str, raw: Any, rank: int, path: Path) -> Tier:
    where = f"{path}: tier {name!r}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(raw) - {"monthly_api_calls", "oauth_connections", "limit", "overage_per_call", "prices"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    calls = raw.get("monthly_api_calls")
    if not _whole(calls, MAX_MONTHLY_CALLS):
        raise ConfigError(
            f"{where}: monthly_api_calls must be an integer from 0 to {MAX_MONTHLY_CALLS:,}, not {calls!r}"
        )
    conns = raw.get("oauth_connections", "unlimited")
    if conns == "unlimited":
        conns = None
    elif not _whole(conns, MAX_CONNECTIONS):
        raise ConfigError(
            f"{where}: oauth_connections must be an integer from 0 to {MAX_CONNECTIONS:,} or \"unlimited\", "
            f"not {conns!r}"
        )
    limit = raw.get("limit", "soft")
    if limit not in ("hard", "soft"):
        raise ConfigError(f"{where}: limit must be \"hard\" or \"soft\"")
    overage = raw.get("overage_per_call", 0)
    if not (
        isinstance(overage, int | float) and not isinstance(overage, bool)
        and math.isfinite(overage) and 0 <= overage <= MAX_OVERAGE
    ):
        raise ConfigError(
            f"{where}: overage_per_call must be a finite number from 0 to {MAX_OVERAGE:,} (minor units), "
            f"not {overage!r}"
        )
    prices = raw.get("prices", [])
    if not isinstance(prices, list) or not all(isinstance(p, str) for p in prices):
        raise ConfigError(f"{where}: prices must be a list of strings")
    return Tier(name, calls, conns, limit, float(overage) if limit == "soft" else 0.0, rank, tuple(prices))


def _whole(value: Any, most: int) -> bool:
    """Whether ``value`` is an integer (not a bool) from 0 to ``most``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def _refuse_shared_prices(tiers: Iterable[Tier], path: Path) -> None:
    """A price listed under two tiers would give a subscriber whichever tier comes first."""
    owner: dict[str, str] = {}
    for tier in tiers:
        for price in tier.prices:
            first = owner.setdefault(price, tier.name)
            if first != tier.name:
                raise ConfigError(
                    f"{path}: price {price!r} is listed under tiers {first!r} and {tier.name!r}; "
                    "a price belongs to one tier"
                )


def load_tiers(path: Path | None = None) -> TierTable:
    """The default tier table, or the one in the TOML file at ``path``."""
    if path is None:
        return DEFAULT_TIERS
    data = read_toml(path, what="tier file")
    tiers = data.get("tiers")
    if not isinstance(tiers, dict) or not tiers:
        raise ConfigError(f"malformed tier file {path}: expected [tiers.<name>] tables")
    parsed = tuple(_parse_tier(n, raw, i, Path(path)) for i, (n, raw) in enumerate(tiers.items()))
    _refuse_shared_prices(parsed, Path(path))
    return TierTable(parsed)
