"""What the callback form accepts for each answer, and how it reads the details back.

Kept free of Rasa so the rules are easy to read and test; actions/callback_form.py applies them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

from bot.callbacks import ROLES, CallbackDetails

NAME_MAX = 60
TIME_MAX = 80
NOTE_MAX = 500

# Slots that hold what the person typed. They are cleared after submit or cancel.
PERSONAL_SLOTS = (
    "callback_consent",
    "callback_name",
    "callback_phone",
    "callback_safe_to_identify",
    "callback_time",
    "callback_role",
    "callback_note",
    "callback_confirmed",
    "callback_phone_failures",
    "callback_gave_up",
    "callback_key",
)

# What a person may ask to change at the summary, and the slot that holds it.
CORRECTABLE = {
    "name": "callback_name",
    "phone": "callback_phone",
    "voicemail": "callback_safe_to_identify",
    "time": "callback_time",
    "role": "callback_role",
    "note": "callback_note",
}

SKIP = "skip"  # stored in optional slots when the person chose not to answer

_SKIP_WORDS = {
    "skip", "no", "nope", "nah", "no thanks", "no thank you", "none", "nothing", "n/a", "na",
    "nothing else", "no thanks, nothing to add", "prefer not to say", "rather not say", "pass",
}
_NAME_PREFIX = re.compile(
    r"^(hi|hello|hiya)?[ ,]*(my name is|my name's|name's|name is|it's|its|it is|i'm|im|i am|"
    r"this is|call me|ask for|you can ask for|just)\s+",
    re.IGNORECASE,
)
_NAME_SUFFIX = re.compile(r"\s+(please|thanks|thank you|is fine|here)[.!]*$", re.IGNORECASE)
_ROLE_WORDS = (
    ("person_responsible", ("caused harm", "i did it", "me who did", "responsible", "offender", "i was the one who")),
    ("person_harmed", ("was harmed", "victim", "harmed", "it happened to me", "was hurt", "was attacked")),
    ("family_member", ("family", "friend", "mum", "mom", "dad", "parent", "partner", "wife", "husband",
                       "son", "daughter", "sister", "brother", "relative", "carer")),
    ("professional", ("professional", "teacher", "social worker", "officer", "probation", "work for",
                      "police", "support worker", "agency", "school")),
)


# Intents that always mean "not an answer", whatever was asked.
ALWAYS_INTERRUPT = {"stop", "emergency_danger", "emergency_self_harm", "goodbye"}
# Intents that mean "not an answer" only when the message reads as a question: a short answer such as
# "Robin", "evenings" or "Morning" can look like an FAQ or a greeting to the classifier, and must still
# be taken as the answer.
QUESTION_INTENTS = {"faq", "out_of_scope", "request_callback", "greet", "thanks"}
_QUESTION_START = {
    "what", "whats", "what's", "how", "who", "why", "where", "which", "is", "isn't", "are", "can", "could",
    "do", "does", "did", "will", "would", "should", "may", "tell", "explain",
}


def looks_like_a_question(text: str) -> bool:
    words = _tidy(text).lower().split()
    return "?" in text or bool(words and words[0] in _QUESTION_START and len(words) > 1)


def is_interruption(intent: Optional[str], text: str) -> bool:
    """Whether a message sent while the form waits for a typed answer is something else instead."""
    if intent in ALWAYS_INTERRUPT:
        return True
    return intent in QUESTION_INTENTS and looks_like_a_question(text)


@dataclass(frozen=True)
class Checked:
    """A cleaned value, or a kind explanation of why it cannot be used."""

    value: Optional[str]
    problem: Optional[str] = None


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def is_skip(text: str) -> bool:
    return _tidy(text).lower().strip(".!") in _SKIP_WORDS


# Doubt about whether a voicemail is safe is read as "no": the person may share a phone with the person
# who harmed them, and a message left when it was not safe cannot be taken back.
_UNSURE = re.compile(
    r"\b(not sure|unsure|dunno|don'?t know|no idea|maybe|might be|not always|depends|sometimes|"
    r"rather not|better not|best not|prefer not|not really)\b",
    re.IGNORECASE,
)


def unsure_about_voicemail(text: str) -> bool:
    """Whether an answer to "is it safe to leave a voicemail?" expresses doubt rather than yes or no."""
    return bool(_UNSURE.search(_tidy(text)))


def check_name(text: str, entity: Optional[str] = None) -> Checked:
    name = _tidy(entity or text)
    name = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", name)).strip(" .,!")
    if not name or not re.search(r"[^\W\d_]", name):
        return Checked(None, "Sorry, I didn't catch a name there. What name should the team ask for?")
    if re.search(r"\d{3}", name):
        return Checked(None, "That looks like a number rather than a name. What name should the team ask for? "
                             "I'll ask for the phone number next.")
    if len(name) > NAME_MAX:
        return Checked(None, f"That's a bit long for a name (up to {NAME_MAX} characters). "
                             "A first name is fine.")
    return Checked(name)


def check_time(text: str) -> Checked:
    time = _tidy(text)
    if not time:
        return Checked(None, "When would be a good time to call? For example: mornings, after 6pm, or any time.")
    if len(time) > TIME_MAX:
        return Checked(None, f"Could you say that in fewer words (up to {TIME_MAX} characters)? "
                             "For example: weekday mornings.")
    return Checked(time)


def check_role(text: str) -> Checked:
    if is_skip(text):
        return Checked(SKIP)
    lowered = _tidy(text).lower()
    for key, words in _ROLE_WORDS:
        if any(word in lowered for word in words):
            return Checked(key)
    if lowered in {"other", "something else", "none of those"}:
        return Checked("other")
    return Checked(None, "Sorry, I didn't follow. Please choose one of the options, or press Skip.")


def check_note(text: str) -> Checked:
    if is_skip(text):
        return Checked(SKIP)
    note = _tidy(text)
    if len(note) > NOTE_MAX:
        return Checked(None, f"Please keep the note short (up to {NOTE_MAX} characters; yours has {len(note)}). "
                             "A facilitator will talk everything through with you on the phone.")
    return Checked(note)


def optional(value: Optional[str]) -> Optional[str]:
    return None if value in (None, SKIP) else value


def details_from_slots(slots: Mapping[str, object]) -> CallbackDetails:
    return CallbackDetails(
        name=str(slots["callback_name"]),
        phone=str(slots["callback_phone"]),
        safe_to_identify=bool(slots["callback_safe_to_identify"]),
        best_time=str(slots["callback_time"]),
        role=optional(slots.get("callback_role")),  # type: ignore[arg-type]
        note=optional(slots.get("callback_note")),  # type: ignore[arg-type]
    )


def display_phone(e164: str) -> str:
    """+447700900123 -> 07700 900123: the way people in the UK write their own number."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(e164, "GB")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def summary(slots: Mapping[str, object]) -> str:
    role = optional(slots.get("callback_role"))  # type: ignore[arg-type]
    note = optional(slots.get("callback_note"))  # type: ignore[arg-type]
    lines = [
        "Here's what I have:",
        f"• Name: {slots.get('callback_name')}",
        f"• Number: {display_phone(str(slots.get('callback_phone')))}",
        "• Voicemail or saying who's calling: " + ("yes, that's safe" if slots.get("callback_safe_to_identify")
                                                    else "no, please don't"),
        f"• Good time to call: {slots.get('callback_time')}",
        f"• About you: {ROLES.get(role, role) if role else 'not given'}",
        f"• Note: {note if note else 'none'}",
        "Shall I send this to the team?",
    ]
    return "\n".join(lines)
