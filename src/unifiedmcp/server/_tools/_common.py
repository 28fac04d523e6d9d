"""What the tool modules share: list pages and parameter assembly."""

from __future__ import annotations

from typing import Any

__all__ = ["page", "list_params", "DEFAULT_LIMIT", "PAGINATION_HELP"]

DEFAULT_LIMIT = 10
PAGINATION_HELP = (
    "Paginate with `limit` (1-100) and `starting_after` (the `next_cursor` of the previous page); "
    "`has_more` says whether another page exists."
)


def list_params(limit: int, starting_after: str | None, **filters: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    params.update({k: v for k, v in filters.items() if v is not None})
    return params


def page(result: Any) -> dict[str, Any]:
    """A Stripe list as ``{data, has_more, next_cursor}`` (the cursor is the last id when more exist)."""
    data = [obj.to_dict() for obj in result.data]
    has_more = bool(result.has_more)
    return {
        "object": "list",
        "data": data,
        "count": len(data),
        "has_more": has_more,
        "next_cursor": data[-1].get("id") if has_more and data else None,
    }
