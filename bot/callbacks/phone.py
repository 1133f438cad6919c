"""UK phone numbers: tolerant reading, E.164 output, and kind explanations when we cannot call.

`phonenumbers` does the reading: international prefixes (+44, 0044, 44), a trunk zero after them
("+44 (0)7700..."), a forgotten leading zero, number types and short service numbers. Two things it does not do
are done here: picking the number out of a sentence that may also hold other digits ("I'm 34, it's 0113...")
even when the number is not valid (its `PhoneNumberMatcher` skips invalid numbers, and we want to say why one is
wrong), and turning each rejection into a short `reason` code (for tests, never the number itself) with a
`message` that tells the person what to do next without making them feel they got it wrong.
"""
from __future__ import annotations

import re
from typing import Optional

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, ValidationResult, shortnumberinfo

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
# Not a UK short number, but the emergency number people know from films.
FILM_EMERGENCY = "911"

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


def _parse(candidate: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(candidate, "GB")
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
            raise PhoneNumberError("too_long") from None
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise PhoneNumberError("foreign") from None
        raise PhoneNumberError("too_short" if len(re.sub(r"\D", "", candidate)) < 10 else "invalid") from None


def normalise_uk_phone(text: Optional[str]) -> str:
    """Return the number in E.164 (+447700900123) or raise PhoneNumberError with a kind reason."""
    if text is None or not text.strip():
        raise PhoneNumberError("empty")
    candidate = _best_candidate(text)
    if candidate is None:
        raise PhoneNumberError("letters" if any(ch.isalpha() for ch in text) else "empty")
    parsed = _parse(candidate)
    if parsed.country_code != UK_COUNTRY_CODE:
        raise PhoneNumberError("foreign")
    # 999, 101, 111 and the 116 helplines (Samaritans 116 123) are not lines anyone can be called back on.
    if shortnumberinfo.is_valid_short_number(parsed) or re.sub(r"\D", "", candidate) == FILM_EMERGENCY:
        raise PhoneNumberError("service")
    # The national form the person meant; a trunk zero the library could not strip is not counted twice.
    national = "0" + phonenumbers.national_significant_number(parsed).lstrip("0")
    if national.startswith(CHARGED_PREFIXES):
        raise PhoneNumberError("premium")
    if not phonenumbers.is_valid_number(parsed):
        length = phonenumbers.is_possible_number_with_reason(parsed)
        if length == ValidationResult.TOO_LONG and len(national) > 11:
            raise PhoneNumberError("too_long")
        # Some genuine UK numbers have 10 digits, so a 10-digit number is only "short" once it is invalid.
        if len(national) == 10:
            raise PhoneNumberError("too_short", ONE_DIGIT_SHORT)
        raise PhoneNumberError("too_short" if len(national) < 10 else "invalid")
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
