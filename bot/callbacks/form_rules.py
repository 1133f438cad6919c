"""How the callback form reads each reply in the light of the question it just asked, and reads the details back.

Kept free of Rasa so the rules are easy to read and test; actions/callback_form.py applies them.

People answer in their own words: "yes you can leave a message, I live on my own", "no dont leave a msg my mum
goes through my phone", "wait sorry that's wrong, it's 020 7946 0562", "actually no, I'm not ready". A
classifier trained on whole questions cannot tell these apart reliably, and the question just asked already
says what kind of answer to expect, so each step reads the text with small rules of its own. No library reads
English yes/no answers with reasons; these rules are short, ordered, and tested phrase by phrase
(tests/test_callback_form.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

from bot.callbacks.store import NOTE_MAX_LENGTH, ROLES, CallbackDetails, without_hidden_characters

NAME_MAX = 60
TIME_MAX = 80

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
    "callback_misses",
    "callback_gave_up",
    "callback_cancelled",
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
# Words that name a detail in a typed correction ("the time's wrong", "change my number").
_DETAIL_WORDS = (
    ("phone", r"number|phone|mobile|landline|digits?"),
    ("name", r"name|spell(?:ed|t|ing)?"),
    ("voicemail", r"voicemail|message|msg"),
    ("time", r"time|morning|afternoon|evening|day"),
    ("role", r"role|about me"),
    ("note", r"note"),
)

SKIP = "skip"  # stored in optional slots when the person chose not to answer
NO_TIME_GIVEN = "no time given"

_SKIP_WORDS = {
    "skip", "no", "nope", "nah", "na", "no thanks", "no thank you", "none", "nothing", "n/a", "nothing else",
    "no thanks, nothing to add", "nothing to add", "prefer not to say", "rather not say", "id rather not say",
    "i'd rather not say", "i would rather not say", "pass", "not really", "no ta", "nah thanks", "no note",
    "no, thanks", "nah ta", "nothing thanks", "no that's all", "no thats all", "that's all", "thats all",
    "i'd rather not", "rather not", "no i'm fine", "no im fine", "all good", "not needed", "no need",
}


def _tidy(text: str) -> str:
    # Everything the form keeps passes through here: control and invisible characters typed or pasted in
    # (a NUL, an escape sequence, a zero-width space, a right-to-left override) are dropped, and line
    # breaks become spaces, before anything is read, read back or stored.
    return re.sub(r"\s+", " ", without_hidden_characters(text or "")).strip()


def _plain(text: str) -> str:
    """Lower case, curly quotes straightened, punctuation other than apostrophes turned into spaces."""
    lowered = _tidy(text).lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", re.sub(r"[^\w' ]", " ", lowered)).strip()


def is_skip(text: str) -> bool:
    return _tidy(text).lower().replace("\u2019", "'").strip(".! ") in _SKIP_WORDS


# --- questions, cancellations -------------------------------------------------------------------------

_QUESTION_START = {
    "what", "whats", "what's", "how", "who", "whos", "who's", "why", "where", "which", "is", "isn't", "are", "can",
    "could", "do", "does", "did", "will", "would", "should", "may", "tell", "explain", "am", "wat", "wot", "r",
}


def looks_like_a_question(text: str) -> bool:
    words = _plain(text).split()
    return "?" in text or bool(words and words[0] in _QUESTION_START and len(words) > 1)


# Cancelling, in the words people use. A conditional ("can we pull out later if we change our minds?") asks
# about cancelling; it does not cancel.
_CANCEL = re.compile(
    r"\b(cancel|scrap (?:that|it|this|all)|forget (?:it|that|about it|the call|the callback|this|all)|"
    r"never ?mind|nevermind|changed? my mind|not ready(?! to (?:meet|see|face|write|do a meeting))|"
    r"(?:don't|dont|do not) want (?:to do this|a call|the call|a callback|you (?:to )?(?:call|ring|phone|keep|"
    r"store|save|keeping|storing|having)|anyone to call)|no longer want|stop (?:this|it|now|please|the form|"
    r"asking)|(?:can|could) (?:we|you|i) stop|i want to stop|please stop|let's stop|lets stop|"
    r"on second thoughts?)\b|^(?:oh |nah |no |just )?(?:leave it|don't bother|dont bother)\b"
)
_CONDITIONAL = re.compile(r"\b(if|whether|later|what happens|what if|in case|any ?time|at any point|halfway|partway)\b")


def wants_to_cancel(text: str) -> bool:
    plain = _plain(text)
    if plain in {"stop", "cancel", "quit", "exit", "end", "stop it", "stop now", "no stop", "stop please"}:
        return True
    match = _CANCEL.search(plain)
    if not match:
        return False
    # "Can I stop later if I change my mind?" asks about cancelling; only a plain statement cancels.
    return not (_CONDITIONAL.search(plain) and looks_like_a_question(text))


# --- yes and no -----------------------------------------------------------------------------------------

# Idioms whose negative word means yes.
_YES_IDIOMS = re.compile(
    r"\b(no problem|no probs|no worries|not a problem|(?:i )?(?:don't|dont|do not) mind|why not|"
    r"no reason not to|no bother|not bothered)\b"
)
_YES_START = re.compile(
    r"^(yes|yess+|yeah|yea|yeh|yep|yup|ye|yh|ya|yas|aye|ok|okay|okey|k|kk|sure|fine|alright|all right|"
    r"go ahead|go on|of course|course|definitely|defo|absolutely|certainly|please do|that's fine|thats fine|"
    r"that is fine|that's ok|thats ok|that's okay|thats okay|that's alright|thats alright|that's grand|"
    r"that's all right|thats all right|that is all right|all fine|all ok|all okay|looks fine|looks ok|"
    r"looks okay|looks great|looks correct|go for it|that's it|thats it|that's everything|thats everything|"
    r"sounds good|correct|right|that's right|thats right|that's correct|thats correct|spot on|perfect|"
    r"i consent|i agree|agreed|happy to|happy with that|that works|it's fine|its fine|it is fine|"
    r"that'll do|all correct|all good|looks good|looks right|lovely|great|brilliant|cool|yes please)\b"
)
_NO_START = re.compile(
    r"^(no|nope|nah|na|not really|not at all|never|don't|dont|do not|rather not|i'd rather not|"
    r"i would rather not|better not|best not|please don't|please dont|no thanks|no thank you|"
    r"i don't think so|i dont think so|not that|wrong)\b"
)


def yes_or_no(text: str) -> Optional[bool]:
    """True for a yes and False for a no, said in any words and with reasons; None when it is neither."""
    plain = _YES_IDIOMS.sub("yes", _plain(text))
    # The first clause carries the answer: "yes, the shop phone is fine", "no, I don't want you storing it".
    first = re.split(r"\b(?:but|because|cos|as)\b", plain)[0].strip()
    for lead in ("oh ", "um ", "umm ", "erm ", "er ", "well ", "hmm ", "ah ", "so ", "and ", "actually ", "honestly "):
        if first.startswith(lead):
            first = first[len(lead):]
    if _NO_START.match(first):
        return False
    if _YES_START.match(first):
        return True
    return None


# Doubt about whether a voicemail is safe is read as "no": the person may share a phone with the person
# who harmed them, and a message left when it was not safe cannot be taken back.
_UNSURE = re.compile(
    r"\b(not sure|unsure|dunno|don'?t know|no idea|maybe|might be|not always|depends|sometimes|"
    r"rather not|better not|best not|prefer not|not really|probably not|i guess|suppose so)\b"
)
# Anything that says a message or a name could be seen or heard by the wrong person.
_NOT_SAFE = re.compile(
    r"\b(?:(?:don'?t|dont|do not|never|no|please don'?t|rather you didn'?t)\b[\w' ]{0,25}?"
    r"\b(?:leave|leaving|message|msg|voicemail|voice mail|say|saying|mention|tell|identify|text)|"
    r"not safe|isn'?t safe|wouldn'?t be safe|unsafe|not a good idea|"
    r"(?:check|checks|checking|goes through|go through|look at|looks at|read|reads|answer|answers|"
    r"pick up|picks up|listen to|listens to|see|sees|hear|hears) (?:my|the|this|our) "
    r"(?:phone|messages|voicemail|landline|texts|mobile)|"
    r"(?:doesn'?t|don'?t|does not|do not) know|shares? (?:my|the|this|a) phone|someone else might|"
    r"(?:he|she|they) might (?:hear|see|find))"
)
_SAFE = re.compile(
    r"\b(?:(?:can|could|may|feel free to|ok to|okay to|fine to|safe to) (?:leave|say)|"
    r"leave a (?:message|msg|voicemail)|"
    r"(?:message|messages|msg|voicemail)s? (?:is|are) (?:fine|ok|okay|safe|no problem)|fine for (?:messages|a message)|"
    r"it'?s (?:safe|fine|ok)|that'?s (?:safe|fine|ok)|safe|live on my own|live alone|my own (?:phone|mobile)|"
    r"work (?:line|phone|number))\b"
)


# At the read-back, "send it" is a yes; "don't send it yet" is not.
_SEND = re.compile(r"\b(send|submit|pass (?:it|this|them) on|put (?:it|this) through)\b")
_ASKED_TO_SEND = re.compile(r"^(?:(?:can|could|will|would) you )?(?:please )?(?:send|submit)\b")
_HOLD = re.compile(r"\b(don'?t|do not|not|never|no|wait|hold on|before|yet)\b")


def confirms_sending(text: str) -> Optional[bool]:
    """Reads the answer to "Shall I send this to the team?"."""
    answer = yes_or_no(text)
    if answer is not None:
        return answer
    plain = _plain(text)
    if _SEND.search(plain) and not _HOLD.search(plain) and (
            not looks_like_a_question(text) or _ASKED_TO_SEND.match(plain)):
        return True
    return None


def voicemail_is_safe(text: str) -> Optional[bool]:
    """Reads "is it safe to leave a voicemail or say who is calling?": any hint of risk or doubt means no."""
    plain = _plain(text)
    if _NOT_SAFE.search(plain) or _UNSURE.search(plain):
        return False
    answer = yes_or_no(text)
    if answer is not None:
        return answer
    if _SAFE.search(plain) and not looks_like_a_question(text):
        return True
    return None


def unsure_about_voicemail(text: str) -> bool:
    """Whether an answer to "is it safe to leave a voicemail?" expresses doubt rather than yes or no."""
    return bool(_UNSURE.search(_plain(text)))


# --- names ------------------------------------------------------------------------------------------------

_NAME_PREFIX = re.compile(
    r"^(hi|hello|hiya|hey)?[ ,]*(my name is|my name's|my names|name is|name's|names|name:|it's|its|it is|"
    r"i'm|im|i am|this is|call me|ask for|you can ask for|just|it's just|its just)\s+",
    re.IGNORECASE,
)
_NAME_SUFFIX = re.compile(r"\s+(please|pls|thanks|thank you|ta|is fine|here|is good|will do)[.!]*$", re.IGNORECASE)
_NAME_REFUSALS = {"no", "nope", "nah", "no thanks", "rather not", "i'd rather not", "id rather not",
                  "i'd rather not say", "prefer not to say", "don't want to", "dont want to", "pass", "skip"}
# A name offered in the message that asked for a callback: "my name's Sarah", "Name: Aisha Khan",
# "This is Dan Whitfield", "its Jordan Price". After "I'm", "it's" or "this is" only a capitalised word
# counts ("I'm a teacher" is not a name); after "name is" a lower-case name counts too.
_NAME_WORD = r"[^\W\d_][\w'\-]*"
_OFFERED_NAME = (
    re.compile(rf"\b(?:my name is|my name's|my names|name is|name's|name\s*:)\s*"
               rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})", re.IGNORECASE),
    re.compile(r"\b(?:[Tt]his is|[Ii]t's|[Ii]ts|[Ii]'m|[Ii]m|I am)\s+([A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*){0,2})"),
)
_NOT_NAME_WORDS = {
    "and", "i", "im", "i'm", "can", "could", "would", "please", "pls", "calling", "here", "from", "on", "call",
    "ring", "my", "the", "a", "an", "about", "who", "was", "is", "number", "phone", "mobile", "but",
    "so", "just", "really", "not", "no", "yes", "hi", "hello", "thanks", "sorry", "its", "it's", "this",
    "that", "in", "at", "for", "to", "of", "with", "restorative", "rj", "gloucestershire", "mum", "dad",
    "victim", "one", "ok", "okay", "fine", "best", "time", "tel", "mob",
}


def offered_name(text: str) -> Optional[str]:
    """A name the person gave without being asked, or None."""
    for pattern in _OFFERED_NAME:
        match = pattern.search(text or "")
        if not match:
            continue
        words = []
        for word in match.group(1).split():
            if word.lower().strip("'") in _NOT_NAME_WORDS:
                break
            words.append(word)
        if words:
            checked = check_name(" ".join(words))
            if checked.value:
                return checked.value
    return None


@dataclass(frozen=True)
class Checked:
    """A cleaned value, or a kind explanation of why it cannot be used."""

    value: Optional[str]
    problem: Optional[str] = None


def check_name(text: str, entity: Optional[str] = None) -> Checked:
    name = _tidy(entity or text)
    if _plain(name) in _NAME_REFUSALS:
        return Checked(None, "That's fine if you'd rather not give your full name: a first name or any name "
                             "you'd like the team to ask for is enough.")
    name = _NAME_SUFFIX.sub("", _NAME_PREFIX.sub("", name)).strip(" .,!")
    # "Sarah, 0113 496 0214": the number is read separately; the name is what comes before it.
    name = re.split(r"[,;]?\s*(?:\+|\(?\d)", name)[0].strip(" .,!-") if re.search(r"\d{3}", name) else name
    if not name or not re.search(r"[^\W\d_]", name):
        return Checked(None, "Sorry, I didn't catch a name there. What name should the team ask for?")
    if len(name) > NAME_MAX:
        return Checked(None, f"That's a bit long for a name (up to {NAME_MAX} characters). "
                             "A first name is fine.")
    return Checked(name)


# --- time, role, note ---------------------------------------------------------------------------------

_OFFERED_TIME = re.compile(r"\b(?:best time|good time|time to call|time)\s*[:\-]\s*([^.\n;]{2,80})", re.IGNORECASE)


def offered_time(text: str) -> Optional[str]:
    """A time to call given as a labelled detail in the opening message ("Best time: lunchtime")."""
    match = _OFFERED_TIME.search(text or "")
    return check_time(match.group(1)).value if match else None


def check_time(text: str) -> Checked:
    time = _tidy(text)
    if not time:
        return Checked(None, "When would be a good time to call? For example: mornings, after 6pm, or any time.")
    if len(time) > TIME_MAX:
        return Checked(None, f"Could you say that in fewer words (up to {TIME_MAX} characters)? "
                             "For example: weekday mornings.")
    return Checked(time)


_RELATIVES = (r"mum|mom|mother|mam|dad|father|parent|son|daughter|sister|brother|wife|husband|partner|"
              r"gran|nan|nanna|grandma|grandad|grandpa|grandmother|grandfather|aunt|auntie|uncle|cousin|niece|"
              r"nephew|friend|carer|girlfriend|boyfriend|fiance|fiancee|stepmum|stepdad|child|kid|family|relative")
_ROLE_PATTERNS = (
    ("person_responsible", re.compile(
        r"\b(caused (?:the |some )?harm|i did it|i done it|it was me who did|i was the one who (?:did|hurt|caused|"
        r"attacked|hit|stole|broke|burgled|robbed|assaulted|damaged)|i'?m the one who (?:did|hurt|caused)|"
        r"the (?:one|person|lad|guy|man|woman|girl|boy|kid) who (?:did it|did this|caused|hurt|harmed)|"
        r"i hurt|i harmed|offender|responsible|"
        r"i was (?:convicted|charged|sentenced)|i committed|my fault|perpetrator)\b")),
    ("family_member", re.compile(
        rf"\b(?:(?:i'?m|im|i am) (?:his|her|their|the|a) (?:{_RELATIVES})|^(?:his|her|their) (?:{_RELATIVES})|"
        rf"(?:{_RELATIVES}) of|"
        rf"on behalf of|my (?:{_RELATIVES}) (?:was|is|got|has|had)|family member|family|relative|friend)\b")),
    ("professional", re.compile(
        r"\b(professional|teacher|head ?teacher|social worker|youth worker|support worker|key ?worker|"
        r"case ?worker|probation|officer|police|pcso|nurse|counsellor|therapist|i work|work for|agency|"
        r"practitioner|caseload|manager|solicitor|advocate|staff|school)\b")),
    ("person_harmed", re.compile(
        r"\b(victim|was harmed|i was harmed|harmed|happened to me|it was me it happened to|the (?:one|person) "
        r"(?:it happened to|who was|being|(?:he|she|they) \w+ed|he hurt|she hurt|they hurt|that was)|"
        r"i was (?:the one )?(?:burgled|robbed|"
        r"assaulted|attacked|mugged|hurt|harassed|stalked|threatened|beaten|abused|scammed|hit|bullied)|"
        r"(?:my|it was my) (?:car|van|house|home|shop|bike|flat|phone|business|property|garden|window)"
        r"(?: that)? (?:was|got)|the one (?:being|who got)|me (?:who|that) (?:was|got)|"
        r"against me|targeted|i got (?:burgled|robbed|assaulted|attacked|mugged|hurt|beaten))\b")),
)


def check_role(text: str) -> Checked:
    if is_skip(text):
        return Checked(SKIP)
    plain = _plain(text)
    for key, pattern in _ROLE_PATTERNS:
        if pattern.search(plain):
            return Checked(key)
    if plain in {"other", "something else", "none of those", "neither"}:
        return Checked("other")
    return Checked(None, "Sorry, I didn't follow. Please choose one of the options, or press Skip.")


def check_note(text: str) -> Checked:
    if is_skip(text):
        return Checked(SKIP)
    note = _tidy(text)
    if len(note) > NOTE_MAX_LENGTH:
        return Checked(None, f"Please keep the note short (up to {NOTE_MAX_LENGTH} characters; yours has {len(note)}). "
                             "A facilitator will talk everything through with you on the phone.")
    return Checked(note)


def detail_to_change(text: str) -> Optional[str]:
    """Which detail a typed correction at the summary names ("the time's wrong" -> "time"), if any."""
    plain = _plain(text)
    for detail, words in _DETAIL_WORDS:
        if re.search(rf"\b(?:{words})\b", plain):
            return detail
    return None


# --- reading back -----------------------------------------------------------------------------------------


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
    """+441134960214 -> 0113 496 0214: the way people in the UK write their own number."""
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
