import re

import pytest

from bot.callbacks.phone import MESSAGES, PhoneNumberError, find_phone_number, normalise_uk_phone
from bot.settings import CONTACT_EMAIL

# Numbers in ranges phonenumbers treats as allocated but that are not known to belong to anyone
# in particular; Ofcom's drama ranges (07700 900xxx) are rejected by phonenumbers as unallocated.
VALID = [
    ("07400 123456", "+447400123456"),
    ("07400123456", "+447400123456"),
    ("07400-123-456", "+447400123456"),
    ("07400.123.456", "+447400123456"),
    ("(07400) 123456", "+447400123456"),
    ("0740 012 3456", "+447400123456"),
    ("+447400123456", "+447400123456"),
    ("+44 7400 123456", "+447400123456"),
    ("+44 (0)7400 123456", "+447400123456"),
    ("+44 (0) 7400 123 456", "+447400123456"),
    ("+44 07400 123456", "+447400123456"),
    ("0044 7400 123456", "+447400123456"),
    ("00447400123456", "+447400123456"),
    ("44 7400 123456", "+447400123456"),
    ("447400123456", "+447400123456"),
    ("7400 123456", "+447400123456"),
    ("it's 07400 123 456 thanks", "+447400123456"),
    ("my number is +44 7400 123456.", "+447400123456"),
    ("  07911 123456  ", "+447911123456"),
    ("020 7946 0018", "+442079460018"),
    ("(020) 7946 0018", "+442079460018"),
    ("+44 20 7946 0018", "+442079460018"),
    ("01452 426900", "+441452426900"),
    ("01452-426-900", "+441452426900"),
    ("(01452) 426900", "+441452426900"),
    ("0117 496 0000", "+441174960000"),
    ("0161 496 0000", "+441614960000"),
    ("landline 0113 496 0000 please", "+441134960000"),
    ("0800 123 4567", "+448001234567"),  # toll free
    ("0300 123 3333", "+443001233333"),  # UAN
    ("05512 345678", "+445512345678"),  # corporate / VoIP range
    ("07624 123456", "+447624123456"),  # Isle of Man mobiles share +44
]

INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("--", "empty"),
    ("no", "letters"),
    ("I'd rather not say", "letters"),
    ("0740012345", "too_short"),
    ("074001234", "too_short"),
    ("07400 1234", "too_short"),
    ("+44 7400 12345", "too_short"),
    ("074001234567", "too_long"),
    ("07400 123456 78", "too_long"),
    ("+44 7400 1234567", "too_long"),
    ("07700 900123", "invalid"),  # drama range: not allocated to anyone
    ("01000 123456", "invalid"),
    ("+33 6 12 34 56 78", "foreign"),
    ("0033 6 12 34 56 78", "foreign"),
    ("+1 202 555 0143", "foreign"),
    ("+353 85 123 4567", "foreign"),
    ("09011 234567", "premium"),
    ("0906 123 4567", "premium"),
    ("0845 123 4567", "premium"),
    ("0844 123 4567", "premium"),
    ("0871 234 5678", "premium"),
    ("0870 123 4567", "premium"),
    ("07012 345678", "premium"),
    ("+44 845 123 4567", "premium"),
    ("999", "service"),
    ("101", "service"),
    ("112", "service"),
    ("111", "service"),
    ("116 123", "service"),
    ("118 118", "service"),  # directory enquiries
    ("911", "service"),
    ("07640 123456", "unsupported"),  # pager
]


@pytest.mark.parametrize("text, expected", VALID)
def test_accepts_uk_numbers(text, expected):
    assert normalise_uk_phone(text) == expected


@pytest.mark.parametrize("text, reason", INVALID)
def test_rejects_with_reason(text, reason):
    with pytest.raises(PhoneNumberError) as caught:
        normalise_uk_phone(text)
    assert caught.value.reason == reason
    assert caught.value.message


def test_table_is_big_enough():
    assert len(VALID) + len(INVALID) >= 45


def test_error_text_never_contains_the_number():
    with pytest.raises(PhoneNumberError) as caught:
        normalise_uk_phone("+33 6 12 34 56 78")
    assert "612" not in str(caught.value)
    assert "612" not in repr(caught.value)
    assert "612" not in caught.value.message


def test_foreign_message_offers_email():
    with pytest.raises(PhoneNumberError) as caught:
        normalise_uk_phone("+1 202 555 0143")
    assert CONTACT_EMAIL in caught.value.message
    assert "UK" in caught.value.message


def test_one_digit_short_message():
    with pytest.raises(PhoneNumberError) as caught:
        normalise_uk_phone("0740012345")
    assert "a digit short" in caught.value.message
    assert "11 digits" in caught.value.message


@pytest.mark.parametrize("reason", sorted(MESSAGES))
def test_messages_are_kind_and_british(reason):
    message = MESSAGES[reason]
    assert message.endswith((".", "?"))
    for unkind in ("invalid", "wrong", "error", "must"):
        assert unkind not in message.lower()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("you can reach me on 07400 123456 after 5", "+447400123456"),
        ("call +44 (0)7400 123456 please", "+447400123456"),
        ("0044 7400 123456", "+447400123456"),
        ("home: (01452) 426900", "+441452426900"),
        ("my French number +33 6 12 34 56 78 or 07400123456", "+447400123456"),
        ("not 0845 123 4567 but 020 7946 0018", "+442079460018"),
        ("only +33 6 12 34 56 78", None),
        ("ring 0845 123 4567", None),
        ("no number here", None),
        ("", None),
        (None, None),
    ],
)
def test_find_phone_number(text, expected):
    assert find_phone_number(text) == expected


def test_every_example_number_the_messages_give_is_one_the_validator_accepts():
    examples = {match for message in MESSAGES.values() for match in re.findall(r"\b0\d{3} \d{3} \d{4}\b", message)}
    assert examples, "the messages give no example number"
    for example in examples:
        assert normalise_uk_phone(example).startswith("+44")


def test_the_services_own_voicemail_line_is_never_taken_as_the_callers_number():
    with pytest.raises(PhoneNumberError) as error:
        normalise_uk_phone("01452 754542")
    assert error.value.reason == "ours"
    assert find_phone_number("I rang 01452 754542 and got the answerphone") is None
    assert find_phone_number("I rang 01452 754542, my number is 0113 496 0777") == "+441134960777"
