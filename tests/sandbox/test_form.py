"""Form decoding against stripe-python's own encoder (property-based)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from stripe._encode import _api_encode

from unifiedmcp.sandbox._form import decode_form

_key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_scalar = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_value: st.SearchStrategy[Any] = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, min_size=1, max_size=3) | st.dictionaries(_key, inner, min_size=1, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_key, _value, max_size=4), st.dictionaries(st.text(alphabet="0123456789abc", min_size=1, max_size=4), _scalar, max_size=3))
def test_decoding_inverts_stripe_pythons_encoding(params: dict[str, Any], metadata: dict[str, str]) -> None:
    """Whatever nesting stripe-python encodes (indexed lists, nested dicts, metadata maps with
    numeric keys), the sandbox decodes back to the same structure."""
    params = {k: v for k, v in params.items() if k != "metadata"}
    if metadata:
        params["metadata"] = metadata
    body = urlencode(list(_api_encode(params)))
    assert decode_form(body) == params
