"""Stripe's test payment methods and what each does (https://docs.stripe.com/testing).

``at_attach``: the decline happens when the card is attached to a customer (Stripe validates the
card then), and again at any charge. ``at_charge``: attaching succeeds and every charge fails
(``pm_card_chargeCustomerFail``). ``auth``: the card needs 3-D Secure: on-session confirmation
returns ``requires_action``; off-session (renewals) it fails with ``authentication_required``.
``dispute``: the charge succeeds and is disputed right away.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TestCard", "CARDS", "card_for_token", "card_for_number"]


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    number: str
    failure: str | None = None  # None | "at_attach" | "at_charge" | "auth" | "dispute"
    code: str | None = None  # error code (card_declined, expired_card, ...)
    decline_code: str | None = None
    message: str | None = None
    funding: str = "credit"


_DECLINED = "Your card was declined."
CARDS: dict[str, TestCard] = {
    "visa": TestCard("visa", "4242", "4242424242424242"),
    "visa_debit": TestCard("visa", "5556", "4000056655665556", funding="debit"),
    "mastercard": TestCard("mastercard", "4444", "5555555555554444"),
    "amex": TestCard("amex", "8431", "378282246310005"),
    "chargeDeclined": TestCard(
        "visa", "0002", "4000000000000002", "at_attach", "card_declined", "generic_decline", _DECLINED
    ),
    "chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "4000000000009995", "at_attach", "card_declined", "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "chargeDeclinedLostCard": TestCard(
        "visa", "9987", "4000000000009987", "at_attach", "card_declined", "lost_card", _DECLINED
    ),
    "chargeDeclinedStolenCard": TestCard(
        "visa", "9979", "4000000000009979", "at_attach", "card_declined", "stolen_card", _DECLINED
    ),
    "chargeDeclinedFraudulent": TestCard(
        "visa", "0019", "4100000000000019", "at_attach", "card_declined", "fraudulent", _DECLINED
    ),
    "chargeDeclinedExpiredCard": TestCard(
        "visa", "0069", "4000000000000069", "at_attach", "expired_card", "expired_card",
        "Your card has expired.",
    ),
    "chargeDeclinedIncorrectCvc": TestCard(
        "visa", "0127", "4000000000000127", "at_attach", "incorrect_cvc", "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "chargeDeclinedProcessingError": TestCard(
        "visa", "0119", "4000000000000119", "at_attach", "processing_error", "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "chargeCustomerFail": TestCard(
        "visa", "0341", "4000000000000341", "at_charge", "card_declined", "generic_decline", _DECLINED
    ),
    "authenticationRequired": TestCard(
        "visa", "3184", "4000002760003184", "auth", "authentication_required", "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
    "createDispute": TestCard("visa", "0259", "4000000000000259", "dispute"),
}

# Stripe spells some tokens with a brand infix (pm_card_visa_chargeDeclined) and some without.
_ALIASES = {
    "visa_chargeDeclined": "chargeDeclined",
    "visa_chargeDeclinedInsufficientFunds": "chargeDeclinedInsufficientFunds",
    "visa_chargeDeclinedLostCard": "chargeDeclinedLostCard",
    "visa_chargeDeclinedStolenCard": "chargeDeclinedStolenCard",
    "visa_chargeDeclinedFraudulent": "chargeDeclinedFraudulent",
    "visa_chargeDeclinedExpiredCard": "chargeDeclinedExpiredCard",
    "visa_chargeDeclinedIncorrectCvc": "chargeDeclinedIncorrectCvc",
    "visa_chargeDeclinedProcessingError": "chargeDeclinedProcessingError",
    "visa_chargeCustomerFail": "chargeCustomerFail",
    "visa_authenticationRequired": "authenticationRequired",
    "threeDSecure2Required": "authenticationRequired",
}


def card_for_token(token: str) -> tuple[str, TestCard] | None:
    """``pm_card_visa`` / ``tok_visa`` -> (name, card); ``None`` for anything else."""
    for prefix in ("pm_card_", "tok_"):
        if token.startswith(prefix):
            name = token[len(prefix):]
            name = _ALIASES.get(name, name)
            if name in CARDS:
                return name, CARDS[name]
    return None


def card_for_number(number: str) -> tuple[str, TestCard] | None:
    digits = "".join(ch for ch in number if ch.isdigit())
    for name, card in CARDS.items():
        if card.number == digits:
            return name, card
    return None
