"""Bearer secrets the ledger issues, and their hashes (only hashes are stored).

- API keys: ``umk_<key id>_<secret>``.
- OAuth (the MCP server's authorization server): ``umo_<kind>_<12 hex>_<secret>``, where kind is
  ``at`` (access token), ``rt`` (refresh token) or ``ac`` (authorization code). The part before
  the secret is the public id (``umo_at_1a2b3c4d5e6f``): it names the row, it is safe to log.

Every secret carries 256 bits of entropy, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Literal

from ..errors import AuthError

PREFIX = "umk_"
OAUTH_PREFIX = "umo_"
_TOKEN = re.compile(r"^umk_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")
_OAUTH = re.compile(r"^(umo_(at|rt|ac)_[0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")

OAuthKind = Literal["at", "rt", "ac"]


def new_token() -> tuple[str, str, bytes]:
    """A fresh key: (key_id, token to show once, hash to store)."""
    key_id = PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def hex_hash(secret: str) -> str:
    """The hash as the OAuth tables keep it (hex text: one portable column type)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str]:
    """Split a token into (key_id, secret); a malformed token is an :class:`AuthError`."""
    m = _TOKEN.match(token.strip()) if isinstance(token, str) else None
    if not m:
        raise AuthError("is malformed")
    return PREFIX + m.group(1), m.group(2)


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_oauth_token(kind: OAuthKind) -> tuple[str, str, str]:
    """A fresh OAuth secret of ``kind``: (public id, token to hand out, hex hash to store)."""
    token_id = f"{OAUTH_PREFIX}{kind}_{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    return token_id, f"{token_id}_{secret}", hex_hash(secret)


def parse_oauth_token(token: str, kind: OAuthKind) -> tuple[str, str] | None:
    """(public id, secret) of an OAuth token of ``kind``; None when it is not one."""
    m = _OAUTH.match(token.strip()) if isinstance(token, str) else None
    if not m or m.group(2) != kind:
        return None
    return m.group(1), m.group(3)


def hex_matches(secret: str, stored_hex: str) -> bool:
    return hmac.compare_digest(hex_hash(secret), stored_hex)
