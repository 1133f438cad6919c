"""A caller's number as staff dial it: the store keeps E.164 (+447700900123), staff read "07700 900123".

Used by the staff pages (which also link the number with its E.164 form, tel:+447700900123) and by `rg-staff`.
A number the library cannot read, or that cannot be a whole number, is shown exactly as stored: nothing is ever
hidden or changed by mistake.
"""
from __future__ import annotations

from typing import Optional

import phonenumbers
from phonenumbers import PhoneNumberFormat

UK_COUNTRY_CODE = 44


def _parsed(e164: Optional[str]) -> Optional[phonenumbers.PhoneNumber]:
    if not e164 or not e164.strip():
        return None
    try:
        parsed = phonenumbers.parse(e164.strip(), "GB")
    except phonenumbers.NumberParseException:
        return None
    # A fragment such as "+4412" parses, but reformatting it would only hide what is really stored.
    return parsed if phonenumbers.is_possible_number(parsed) else None


def dial_format(e164: Optional[str]) -> str:
    """UK national format ("07700 900123", "01452 754542"); another country's number keeps its +code; a number
    that cannot be read is returned as stored ("" for none)."""
    parsed = _parsed(e164)
    if parsed is None:
        return e164 or ""
    # Without its country code a foreign number would be dialled as a UK one; the store takes UK numbers only,
    # but a row written by other means could hold one.
    kind = PhoneNumberFormat.NATIONAL if parsed.country_code == UK_COUNTRY_CODE else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, kind)


def tel_href(e164: Optional[str]) -> Optional[str]:
    """"tel:+447700900123" for a link a phone or softphone can dial, or None when the number cannot be read."""
    parsed = _parsed(e164)
    if parsed is None:
        return None
    return "tel:" + phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
