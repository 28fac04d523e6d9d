"""Credential encryption: Fernet under UNIFIEDMCP_SECRET_KEY; missing or malformed keys are clear
errors that never echo the key; rotation keeps old tokens readable until re-encrypted."""

from __future__ import annotations

import pytest

from unifiedmcp.accounts import CredentialCipher, new_secret_key
from unifiedmcp.errors import CredentialUnreadable, SecretKeyMissing

SECRET = "rk_test_51CustomerSuppliedKey0123456789"


def test_round_trip_and_no_plaintext_in_the_token() -> None:
    cipher = CredentialCipher(new_secret_key())
    token = cipher.encrypt(SECRET)
    assert SECRET not in token and "rk_test" not in token
    assert cipher.decrypt(token, connection_id="conn_1") == SECRET


@pytest.mark.parametrize("value", [None, "", " , "])
def test_a_missing_key_is_a_clear_error(value: str | None) -> None:
    with pytest.raises(SecretKeyMissing, match="UNIFIEDMCP_SECRET_KEY is not set.*new-secret-key"):
        CredentialCipher(value)


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SecretKeyMissing) as info:
        CredentialCipher("not-a-fernet-key-but-a-passphrase")
    assert "malformed" in str(info.value) and "passphrase" not in str(info.value)


def test_a_wrong_key_cannot_read_a_credential() -> None:
    token = CredentialCipher(new_secret_key()).encrypt(SECRET)
    with pytest.raises(CredentialUnreadable, match="conn_9"):
        CredentialCipher(new_secret_key()).decrypt(token, connection_id="conn_9")


def test_rotation_reads_old_tokens_and_writes_under_the_first_key() -> None:
    old, new = new_secret_key(), new_secret_key()
    token = CredentialCipher(old).encrypt(SECRET)
    both = CredentialCipher(f"{new},{old}")
    assert both.decrypt(token, connection_id="c") == SECRET  # still readable while rotating
    rotated = both.rotate(token, connection_id="c")
    assert CredentialCipher(new).decrypt(rotated, connection_id="c") == SECRET  # old key no longer needed
    with pytest.raises(CredentialUnreadable):
        CredentialCipher(old).decrypt(rotated, connection_id="c")


def test_the_repr_hides_the_keys() -> None:
    key = new_secret_key()
    assert key not in repr(CredentialCipher(key))
