"""Whom an export or an erasure is about: a customer id, its pseudonym, and the words that
identify the customer (e-mails, names, phone numbers), with the one way to find and remove them.

Pseudonyms are ``anon_`` + 24 hex digits of HMAC-SHA256(``UNIFIEDMCP_PSEUDONYM_KEY``, id): the
same customer always gets the same pseudonym (an erasure run again, or data about the customer
that arrives later, lands on the same accounting records), and without the key nobody can tell
which id a pseudonym stands for, not even by trying candidate ids. The key is its own variable,
not ``UNIFIEDMCP_SECRET_KEY``: that one is rotated, and a rotation would change every pseudonym.

Matching: the customer id only where it stands alone (``cus_12`` is not found in ``cus_123``) and
with its case; the other words in any case (e-mail addresses differ in case between systems).
A record is the customer's when it holds its id or one of its e-mail addresses; a name or a phone
number alone may be another customer's (two Ada Lovelaces), so it is only replaced inside the
customer's records, and searched for in files (report pages) where a false alarm costs a re-render.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
from dataclasses import dataclass
from functools import cached_property

from cryptography.fernet import Fernet
from pydantic import SecretStr

from ..errors import InvalidInput, PseudonymKeyMissing

__all__ = [
    "ERASED",
    "MIN_TERM_LENGTH",
    "Pseudonyms",
    "Subject",
    "check_customer_id",
    "new_pseudonym_key",
]

PSEUDONYM_PREFIX = "anon_"
#: What replaces an e-mail, a name or a phone number inside free text.
ERASED = "[erased]"
#: Shorter words are not searched for: "Al" would be found in every page.
MIN_TERM_LENGTH = 3
_MIN_KEY_LENGTH = 32
# Stripe ids and the ledger's own: no spaces, no wildcards, long enough not to occur by chance.
_CUSTOMER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{5,254}")
_ID_CHAR = "A-Za-z0-9_"


def check_customer_id(customer_id: str) -> str:
    """``customer_id`` if it can be searched for safely, else :class:`InvalidInput`."""
    if not isinstance(customer_id, str) or not _CUSTOMER_ID.fullmatch(customer_id):
        raise InvalidInput(
            "a customer id has 6 to 255 characters: letters, digits, '_', '.', ':' or '-' (e.g. cus_123abc)"
        )
    if customer_id.startswith(PSEUDONYM_PREFIX):
        raise InvalidInput("this is a pseudonym: the customer it stands for was erased already")
    return customer_id


def new_pseudonym_key() -> str:
    """A fresh value for ``UNIFIEDMCP_PSEUDONYM_KEY`` (32 random bytes, url-safe base64)."""
    return secrets.token_urlsafe(32)


class Pseudonyms:
    """Keyed pseudonyms of customer ids. The key never appears in a repr or an error."""

    def __init__(self, key: SecretStr | str | None) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else (key or "")
        if not raw.strip():
            raise PseudonymKeyMissing("is not set")
        if len(raw.strip()) < _MIN_KEY_LENGTH:
            raise PseudonymKeyMissing(f"is shorter than {_MIN_KEY_LENGTH} characters")
        self._key = raw.strip().encode("utf-8")

    def __repr__(self) -> str:
        return "Pseudonyms(key hidden)"

    def of(self, customer_id: str) -> str:
        digest = hmac.new(self._key, b"customer:" + customer_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:24]

    @cached_property
    def journal(self) -> Fernet:
        """The cipher of an unfinished erasure's notes (its own key, derived from this one)."""
        derived = hmac.new(self._key, b"unifiedmcp erasure journal", hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(derived))


@dataclass(frozen=True)
class Subject:
    """A customer as searched for: ``customer_id``, the ``pseudonym`` that replaces it (None for
    an export) and ``terms``: e-mails, names and phone numbers found with it in the stores."""

    customer_id: str
    pseudonym: str | None
    terms: frozenset[str] = frozenset()

    @cached_property
    def _id(self) -> re.Pattern[str]:
        return re.compile(rf"(?<![{_ID_CHAR}]){re.escape(self.customer_id)}(?![{_ID_CHAR}])")

    @cached_property
    def _terms(self) -> re.Pattern[str] | None:
        return _words(self.terms)

    @cached_property
    def _emails(self) -> re.Pattern[str] | None:
        return _words({t for t in self.terms if "@" in t})

    def names_id(self, text: str) -> bool:
        """True when ``text`` holds the customer id (standing alone)."""
        return self.customer_id in text and self._id.search(text) is not None

    def mentions(self, text: str) -> bool:
        """True when ``text`` is the customer's: it holds its id or one of its e-mail addresses."""
        return self.names_id(text) or (self._emails is not None and self._emails.search(text) is not None)

    def scrub_text(self, text: str) -> str:
        """``text`` with the id replaced by the pseudonym and every term by :data:`ERASED`."""
        if self.pseudonym is None:
            raise ValueError("an export subject has no pseudonym")
        if self.customer_id in text:
            text = self._id.sub(self.pseudonym, text)
        return self._terms.sub(ERASED, text) if self._terms is not None else text

    def needles(self) -> list[str]:
        """What to look for in a database column before checking rows with :meth:`mentions` (a
        superset of the rows it accepts)."""
        return [self.customer_id, *sorted(t for t in self.terms if "@" in t and len(t) >= MIN_TERM_LENGTH)]

    def byte_patterns(self) -> tuple[list[bytes], list[bytes]]:
        """What to look for in files, as (case-sensitive, lower-cased) byte strings: the id and
        the terms as written, escaped for HTML, and escaped inside JSON strings."""
        exact = _encodings(self.customer_id)
        folded = [p for t in self.terms if len(t) >= MIN_TERM_LENGTH for p in _encodings(t.lower())]
        return exact, sorted(set(folded))


def _words(terms: set[str] | frozenset[str]) -> re.Pattern[str] | None:
    words = sorted((t for t in terms if len(t) >= MIN_TERM_LENGTH), key=len, reverse=True)
    if not words:
        return None
    return re.compile(rf"(?<![{_ID_CHAR}])(?:{'|'.join(map(re.escape, words))})(?![{_ID_CHAR}])", re.IGNORECASE)


def _encodings(word: str) -> list[bytes]:
    forms = {word, html.escape(word), json.dumps(word)[1:-1], json.dumps(html.escape(word))[1:-1]}
    return sorted(f.encode("utf-8") for f in forms)
