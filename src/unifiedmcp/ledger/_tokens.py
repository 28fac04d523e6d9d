"""API key tokens: ``umk_<key id>_<secret>``. Only a hash of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from ..errors import AuthError

PREFIX = "umk_"
_TOKEN = re.compile(r"^umk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


def new_token() -> tuple[str, str, bytes]:
    """A fresh key: (key_id, token to show once, hash to store)."""
    key_id = PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> bytes:
    # The secret has 256 bits of entropy, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[str, str]:
    """Split a token into (key_id, secret); a malformed token is an :class:`AuthError`."""
    m = _TOKEN.match(token.strip()) if isinstance(token, str) else None
    if not m:
        raise AuthError("is malformed")
    return PREFIX + m.group(1), m.group(2)


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
