"""Masking secrets (``unifiedmcp._secrets``): shapes, configured values, and every log record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from unifiedmcp._secrets import mask_log_records, mask_secrets
from unifiedmcp.config import Settings


@pytest.mark.parametrize("text, masked", [
    ("key sk_test_51Hx0abcDEF123", "key sk_test_***"),
    ("key=rk_" "live_51Hx0abcDEF123&x=1", "key=rk_live_***&x=1"),  # split: not a key to secret scanners
    ('"secret": "whsec_abcDEF0123456789"', '"secret": "whsec_***"'),
    ("Bearer umk_1a2b3c4d5e6f_Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg-_x", "Bearer umk_1a2b3c4d5e6f_***"),
    ("revoked umk_1a2b3c4d5e6f", "revoked umk_1a2b3c4d5e6f"),  # a key id is not secret
    ("Bearer umo_at_48057e954697_9QFgylWdab15CkHcUCpfmHL9T9kYniPkdYBINHzW8BI", "Bearer umo_at_48057e954697_***"),
    ("refresh_token=umo_rt_fd95cb721a10_cR4GBJUVkZY1UG1f&code=umo_ac_7e2c1780f051_Oe63cbI0DREpNEHg",
     "refresh_token=umo_rt_fd95cb721a10_***&code=umo_ac_7e2c1780f051_***"),
    ("sub_123 risk_level desk_9999 rak_customer_write", "sub_123 risk_level desk_9999 rak_customer_write"),
])
def test_keys_and_secrets_are_masked_by_shape_keeping_their_kind(text: str, masked: str) -> None:
    """Masking twice changes nothing more: each layer may mask what passes through it."""
    assert mask_secrets(text) == masked
    assert mask_secrets(masked) == masked


def test_configured_secrets_are_masked_whatever_their_shape() -> None:
    """A webhook secret that looks like nothing in particular is still masked once config read it."""
    Settings(stripe_webhook_secret="Plain-Looking-Value-7f3a, whsec_second_one_0000", _env_file=None)
    assert mask_secrets("echo Plain-Looking-Value-7f3a!") == "echo ***!"
    assert mask_secrets("tiny words stay") == "tiny words stay"


@pytest.fixture
def masked_log() -> Iterator[io.StringIO]:
    """A logger writing to a buffer, with record masking on (and the factory as it was after)."""
    previous = logging.getLogRecordFactory()
    mask_log_records()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    log = logging.getLogger("tests.secrets")
    log.addHandler(handler)
    log.propagate = False
    try:
        yield buffer
    finally:
        log.removeHandler(handler)
        logging.setLogRecordFactory(previous)


def test_every_log_record_is_masked_message_arguments_and_traceback(masked_log: io.StringIO) -> None:
    key = "sk_test_51LoggedKey0123456789"
    log = logging.getLogger("tests.secrets")
    log.warning("calling with %s (%d tries)", key, 3)
    log.warning(f"formatted in: {key}")
    try:
        raise RuntimeError(f"Request {key}: invalid key")
    except RuntimeError:
        log.exception("failed")
    text = masked_log.getvalue()
    assert key[8:] not in text
    assert "calling with sk_test_*** (3 tries)" in text and "formatted in: sk_test_***" in text
    assert "RuntimeError: Request sk_test_***: invalid key" in text
