"""Stripe's search query language (https://docs.stripe.com/search#search-query-language).

Grammar: clauses joined by ``AND`` or ``OR`` (not both in one query, as Stripe requires); a clause
is ``[-]field OP value`` with OP one of ``:`` (exact, case-insensitive), ``~`` (substring, at
least 3 characters), ``>``, ``<``, ``>=``, ``<=`` (numbers); values are quoted strings, numbers
or ``null``; ``metadata['key']`` addresses metadata. Results are newest first with an opaque
``next_page`` token.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from ._errors import invalid
from ._objects import to_int

__all__ = ["search", "parse"]

Obj = dict[str, Any]

# Searchable fields per resource, and how each maps onto the object.
_FIELDS: dict[str, dict[str, Callable[[Obj], Any]]] = {
    "customers": {
        "created": lambda o: o.get("created"), "email": lambda o: o.get("email"), "name": lambda o: o.get("name"),
        "phone": lambda o: o.get("phone"), "test_clock": lambda o: o.get("test_clock"),
    },
    "products": {
        "active": lambda o: o.get("active"), "created": lambda o: o.get("created"), "description": lambda o: o.get("description"),
        "name": lambda o: o.get("name"), "shippable": lambda o: o.get("shippable"), "url": lambda o: o.get("url"),
    },
    "prices": {
        "active": lambda o: o.get("active"), "currency": lambda o: o.get("currency"), "lookup_key": lambda o: o.get("lookup_key"),
        "product": lambda o: o.get("product"), "type": lambda o: o.get("type"), "created": lambda o: o.get("created"),
    },
    "subscriptions": {
        "created": lambda o: o.get("created"), "status": lambda o: o.get("status"),
        "canceled_at": lambda o: o.get("canceled_at"), "customer": lambda o: o.get("customer"),
    },
    "invoices": {
        "created": lambda o: o.get("created"), "currency": lambda o: o.get("currency"), "customer": lambda o: o.get("customer"),
        "number": lambda o: o.get("number"), "status": lambda o: o.get("status"), "total": lambda o: o.get("total"),
        "subscription": lambda o: ((o.get("parent") or {}).get("subscription_details") or {}).get("subscription"),
    },
    "payment_intents": {
        "amount": lambda o: o.get("amount"), "created": lambda o: o.get("created"), "currency": lambda o: o.get("currency"),
        "customer": lambda o: o.get("customer"), "status": lambda o: o.get("status"),
    },
    "charges": {
        "amount": lambda o: o.get("amount"), "created": lambda o: o.get("created"), "currency": lambda o: o.get("currency"),
        "customer": lambda o: o.get("customer"), "disputed": lambda o: o.get("disputed"),
        "payment_method_details.card.last4": lambda o: ((o.get("payment_method_details") or {}).get("card") or {}).get("last4"),
        "refunded": lambda o: o.get("refunded"), "status": lambda o: o.get("status"),
        "payment_intent": lambda o: o.get("payment_intent"),
    },
}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<clause>-?(?:metadata\[(?:'[^']*'|"[^"]*")\]|[a-z_][a-z0-9_.]*)\s*(?:>=|<=|:|~|>|<)\s*
            (?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'"()]+))
        |(?P<op>AND|OR)
    )""",
    re.X,
)
_CLAUSE = re.compile(
    r"""^(?P<neg>-)?(?:metadata\[(?:'(?P<mk1>[^']*)'|"(?P<mk2>[^"]*)")\]|(?P<field>[a-z_][a-z0-9_.]*))\s*
        (?P<op>>=|<=|:|~|>|<)\s*(?P<value>.+)$""",
    re.X | re.S,
)

Predicate = Callable[[Obj], bool]


def parse(query: str, resource: str) -> Predicate:
    """Compile ``query`` into a predicate over objects of ``resource`` (e.g. ``customers``)."""
    fields = _FIELDS[resource]
    pos = 0
    clauses: list[Predicate] = []
    ops: set[str] = set()
    expect_clause = True
    text = query.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid(f"Invalid query: unexpected input at position {pos}: {text[pos:pos + 20]!r}", param="query")
        pos = m.end()
        if m.group("op"):
            if expect_clause:
                raise invalid(f"Invalid query: {m.group('op')} must join two clauses.", param="query")
            ops.add(m.group("op"))
            expect_clause = True
            continue
        if not expect_clause:
            ops.add("AND")  # whitespace between clauses reads as AND
        clauses.append(_clause(m.group("clause"), fields, resource))
        expect_clause = False
    if not clauses or expect_clause:
        raise invalid("Invalid query: expected a clause.", param="query")
    if len(ops) > 1:
        raise invalid("Invalid query: you cannot combine AND and OR in the same query.", param="query")
    if len(clauses) > 10:
        raise invalid("Invalid query: at most 10 clauses are allowed.", param="query")
    if ops == {"OR"}:
        return lambda o: any(c(o) for c in clauses)
    return lambda o: all(c(o) for c in clauses)


def _unquote(raw: str) -> str | None:
    raw = raw.strip()
    if raw[0] in "'\"" and raw[-1] == raw[0] and len(raw) >= 2:
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    if raw == "null":
        return None
    return raw


def _clause(text: str, fields: dict[str, Callable[[Obj], Any]], resource: str) -> Predicate:
    m = _CLAUSE.match(text)
    if not m:
        raise invalid(f"Invalid query clause: {text}", param="query")
    neg = bool(m.group("neg"))
    op = m.group("op")
    meta_key = m.group("mk1") if m.group("mk1") is not None else m.group("mk2")
    if meta_key is not None:
        def get(o: Obj, k: str = meta_key) -> Any:
            return (o.get("metadata") or {}).get(k)
    else:
        field = m.group("field")
        if field not in fields:
            raise invalid(f"Field '{field}' is an unsupported search field for resource {resource}.", param="query")
        get = fields[field]
    raw = m.group("value")
    value = _unquote(raw)
    quoted = raw.strip()[:1] in "'\""
    if op == ":":
        if value is None and not quoted:
            base: Predicate = lambda o: get(o) in (None, "")  # noqa: E731
        else:
            want = str(value).lower()

            def base(o: Obj) -> bool:
                got = get(o)
                if isinstance(got, bool):
                    return str(got).lower() == want
                return got is not None and str(got).lower() == want
    elif op == "~":
        if value is None or len(value) < 3:
            raise invalid("Substring matching requires at least 3 characters.", param="query")
        want = value.lower()
        base = lambda o: want in str(get(o) or "").lower()  # noqa: E731
    else:
        try:
            n = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise invalid(f"Invalid query: {op} needs a number.", param="query") from None
        cmp = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__}[op]

        def base(o: Obj) -> bool:
            got = get(o)
            try:
                return got is not None and cmp(float(got), n)
            except (TypeError, ValueError):
                return False
    if neg:
        return lambda o: not base(o)
    return base


def search(sb: Any, kind: str, query: str, *, resource: str, url: str, limit: Any, page: Any) -> Obj:
    pred = parse(query, resource)
    n = to_int(limit, param="limit", minimum=1, maximum=100)
    offset = 0
    if page:
        try:
            offset = int(base64.urlsafe_b64decode(str(page).encode()).decode().removeprefix("offset:"))
        except Exception:
            raise invalid("Invalid page token.", param="page") from None
    matched = 0
    data: list[Obj] = []
    has_more = False
    for obj in sb.store.iter(kind):
        if obj.get("deleted") or not pred(obj):
            continue
        if matched >= offset:
            if len(data) == n:
                has_more = True
                break
            data.append(obj)
        matched += 1
    next_page = base64.urlsafe_b64encode(f"offset:{offset + n}".encode()).decode() if has_more else None
    return {"object": "search_result", "data": data, "has_more": has_more, "next_page": next_page, "url": url}
