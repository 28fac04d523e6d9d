"""Encryption of stored credentials: Fernet tokens under ``UNIFIEDMCP_SECRET_KEY``.

``UNIFIEDMCP_SECRET_KEY`` holds one or more Fernet keys, comma-separated. The first encrypts;
all of them decrypt (``MultiFernet``), so a key is rotated by putting the new one first, running
``unifiedmcp connections rotate-keys`` (which re-encrypts every credential under it) and then
removing the old one. Fernet authenticates as well as encrypts: a credential tampered with in the
ledger, or encrypted under a key no longer listed, fails to decrypt instead of yielding garbage.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from ..errors import CredentialUnreadable, SecretKeyMissing

__all__ = ["CredentialCipher", "new_secret_key"]


def new_secret_key() -> str:
    """A fresh key for ``UNIFIEDMCP_SECRET_KEY`` (32 random bytes, urlsafe base64)."""
    return Fernet.generate_key().decode("ascii")


class CredentialCipher:
    """Encrypts and decrypts connection credentials. The keys never appear in a repr or error."""

    def __init__(self, keys: SecretStr | str | None) -> None:
        raw = keys.get_secret_value() if isinstance(keys, SecretStr) else (keys or "")
        parts = [k.strip() for k in raw.split(",") if k.strip()]
        if not parts:
            raise SecretKeyMissing("is not set")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in parts])
        except (ValueError, UnicodeEncodeError):
            # Fernet's own message is harmless, but say which position so the value stays unsaid.
            raise SecretKeyMissing(
                "is malformed (each comma-separated key must be 32 url-safe base64-encoded bytes)"
            ) from None
        self.key_count = len(parts)

    def __repr__(self) -> str:
        return f"CredentialCipher(keys={self.key_count}, values hidden)"

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, connection_id: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise CredentialUnreadable(connection_id) from None

    def rotate(self, token: str, *, connection_id: str) -> str:
        """``token`` re-encrypted under the first key (raises if no listed key decrypts it)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise CredentialUnreadable(connection_id) from None
