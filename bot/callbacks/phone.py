"""UK phone numbers: tolerant reading, E.164 output, and kind explanations when we cannot call.

People type numbers however they write them down, often with words around them, so we find the
number-shaped part ourselves before asking `phonenumbers` whether it is real. Each rejection has a
short `reason` code (for tests and analytics, never the number itself) and a `message` that tells the
person what to do next without making them feel they got it wrong.
"""
from __future__ import annotations

import re
from typing import Optional

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from bot.settings import CONTACT_EMAIL, OFFICE_PHONE_E164

__all__ = ["PhoneNumberError", "normalise_uk_phone", "find_phone_number", "MESSAGES"]

UK_COUNTRY_CODE = 44

# Staff call ordinary phones; these are the types a person can answer. Premium, shared-cost and
# "personal" (070) numbers cost the service money or forward calls to unknown places; pagers and
# voicemail-only numbers cannot be spoken to.
ACCEPTED_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.UAN,
        PhoneNumberType.TOLL_FREE,
    }
)
CHARGED_TYPES = frozenset(
    {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.PERSONAL_NUMBER}
)
# Checked by prefix as well as by type so the rule holds even if metadata reclassifies a range.
CHARGED_PREFIXES = ("09", "084", "087", "070")
SERVICE_NUMBERS = frozenset({"999", "112", "101", "111", "911"})

MESSAGES = {
    "empty": "I didn't catch a phone number there. Could you type the number you'd like us to call, "
    "like 0113 496 0123?",
    "letters": "I couldn't see any digits in that. Could you type the number you'd like us to call, "
    "like 0113 496 0123?",
    "too_short": "That number looks a few digits short — UK numbers usually have 11 digits "
    "starting with 0, like 0113 496 0123.",
    "too_long": "That number looks a little long — UK numbers usually have 11 digits starting with 0, "
    "like 0113 496 0123. Could you check it for me?",
    "invalid": "That doesn't look like a UK phone number I recognise. Could you check it? UK numbers "
    "usually have 11 digits starting with 0, like 0113 496 0123.",
    "foreign": "That looks like a number from outside the UK. I'm sorry, we can only call UK numbers. "
    f"If a UK number isn't possible, you're welcome to email us at {CONTACT_EMAIL}.",
    "premium": "That looks like a premium-rate or shared-cost number (starting 09, 084, 087 or 070), "
    "which we aren't able to call. Could you give us a mobile or landline number instead?",
    "service": "That's a service number rather than a personal one, so we can't call you back on it. "
    "If you are in danger right now, please call 999. Otherwise, could you give us a mobile or "
    "landline number?",
    "ours": "That's Restorative Gloucestershire's own voicemail line. Which number should the team call you on? "
    "A mobile or a landline is fine.",
    "unsupported": "That number can't take a call from us (it may be a pager or voicemail-only "
    "number). Could you give us a mobile or landline number instead?",
}

ONE_DIGIT_SHORT = (
    "That number looks a digit short — UK numbers usually have 11 digits starting with 0, "
    "like 0113 496 0123."
)

# A run of digits with the separators people use between them, optionally led by "+" or "(".
_CANDIDATE = re.compile(r"[+(]?\s*\d[\d\s().\-]*")


class PhoneNumberError(ValueError):
    """The text could not be used as a UK number to call; `message` is safe to show the person."""

    def __init__(self, reason: str, message: Optional[str] = None) -> None:
        self.reason = reason
        self.message = message or MESSAGES[reason]
        # Only the reason code goes into str(): the caller's input must never reach a log line.
        super().__init__(reason)


def _best_candidate(text: str) -> Optional[str]:
    """The number-shaped part of the text with the most digits (words around it are ignored)."""
    best, best_digits = None, 0
    for match in _CANDIDATE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        if digits > best_digits:
            best, best_digits = match.group(), digits
    return best


def _national_digits(candidate: str) -> str:
    """UK national form ("0" + significant number); raises for foreign numbers."""
    digits = re.sub(r"\D", "", candidate)
    international: Optional[str] = None
    if candidate.lstrip("( ").startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith("44") and len(digits) in (11, 12, 13):
        # "44 7700 900123" without the plus; a national number never starts with 44.
        international = digits
    if international is not None:
        if not international.startswith("44"):
            raise PhoneNumberError("foreign")
        rest = international[2:]
        # "+44 (0)7700..." and "+44 07700..." both carry a redundant trunk zero.
        return rest if rest.startswith("0") else "0" + rest
    if not digits.startswith("0") and len(digits) == 10:
        return "0" + digits  # the leading zero is sometimes forgotten
    return digits


def normalise_uk_phone(text: Optional[str]) -> str:
    """Return the number in E.164 (+447700900123) or raise PhoneNumberError with a kind reason."""
    if text is None or not text.strip():
        raise PhoneNumberError("empty")
    candidate = _best_candidate(text)
    if candidate is None:
        raise PhoneNumberError("letters" if any(ch.isalpha() for ch in text) else "empty")
    digits = re.sub(r"\D", "", candidate)
    # 116 xxx are helplines (Samaritans 116 123 and friends), not lines anyone can be called back on.
    if digits in SERVICE_NUMBERS or (len(digits) == 6 and digits.startswith("116")):
        raise PhoneNumberError("service")
    national = _national_digits(candidate)
    if national.startswith(CHARGED_PREFIXES):
        raise PhoneNumberError("premium")
    if len(national) > 11:
        raise PhoneNumberError("too_long")
    try:
        parsed = phonenumbers.parse(national, "GB")
    except phonenumbers.NumberParseException:
        raise PhoneNumberError("invalid") from None
    if not phonenumbers.is_valid_number(parsed):
        # Some genuine UK numbers have 10 digits, so only call a number "short" once it is invalid.
        if len(national) == 10:
            raise PhoneNumberError("too_short", ONE_DIGIT_SHORT)
        raise PhoneNumberError("too_short" if len(national) < 10 else "invalid")
    if parsed.country_code != UK_COUNTRY_CODE:  # pragma: no cover - national parse keeps +44
        raise PhoneNumberError("foreign")
    number_type = phonenumbers.number_type(parsed)
    if number_type in CHARGED_TYPES:
        raise PhoneNumberError("premium")
    if number_type not in ACCEPTED_TYPES:
        raise PhoneNumberError("unsupported")
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    if e164 == OFFICE_PHONE_E164:
        raise PhoneNumberError("ours")  # "I rang 01452 754542 and got the answerphone" is not a number to call back
    return e164


def find_phone_number(text: Optional[str]) -> Optional[str]:
    """The first UK number we could call that appears in free text, in E.164, or None."""
    if not text:
        return None
    for match in phonenumbers.PhoneNumberMatcher(text, "GB"):
        if match.number.country_code != UK_COUNTRY_CODE:
            continue
        try:
            return normalise_uk_phone(match.raw_string)
        except PhoneNumberError:
            continue
    return None
