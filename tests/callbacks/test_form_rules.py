"""The callback form's answer rules (bot/callbacks/form_rules.py)."""
from __future__ import annotations

import pytest

from bot.callbacks import form_rules as form


@pytest.mark.parametrize(
    "text, entity, expected",
    [
        ("Sarah", None, "Sarah"),
        ("my name is Sarah", None, "Sarah"),
        ("it's Jess", None, "Jess"),
        ("  Mrs   Jones  ", None, "Mrs Jones"),
        ("ask for Tom please", None, "Tom"),
        ("Hi I'm Dave, call me on 0113 496 0123", "Dave", "Dave"),
        ("Sam, 0113 496 0123", None, "Sam"),
        ("Siobhan O'Neill-Smith", None, "Siobhan O'Neill-Smith"),
        ("Zoë", None, "Zoë"),
    ],
)
def test_names_are_tidied(text, entity, expected):
    assert form.check_name(text, entity) == form.Checked(expected)


@pytest.mark.parametrize("text", ["", "   ", "0113 496 0123", "!!!", "x" * 61])
def test_unusable_names_get_a_kind_explanation(text):
    checked = form.check_name(text)
    assert checked.value is None
    assert checked.problem and "name" in checked.problem


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I was harmed", "person_harmed"),
        ("I was the victim", "person_harmed"),
        ("I caused harm", "person_responsible"),
        ("it was me who did it", "person_responsible"),
        ("I'm his mum", "family_member"),
        ("Family member or friend", "family_member"),
        ("I'm a teacher", "professional"),
        ("Professional", "professional"),
        ("Skip", form.SKIP),
        ("prefer not to say", form.SKIP),
        ("other", "other"),
    ],
)
def test_roles_are_understood(text, expected):
    assert form.check_role(text).value == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("it was my bike that got nicked", "person_harmed"),
        ("I'm the one he attacked", "person_harmed"),
        ("me, I was the one robbed", "person_harmed"),
        ("I was the one who broke the window", "person_responsible"),
        ("I'm the lad who did it", "person_responsible"),
        ("I'm her grandad", "family_member"),
        ("his sister", "family_member"),
        ("I'm a probation officer", "professional"),
        ("support worker", "professional"),
        ("I'd rather not say", form.SKIP),
    ],
)
def test_roles_said_in_a_persons_own_words(text, expected):
    assert form.check_role(text).value == expected


def test_an_unclear_role_is_asked_again():
    checked = form.check_role("banana")
    assert checked.value is None and "Skip" in checked.problem


def test_notes_are_optional_and_short():
    assert form.check_note("Skip").value == form.SKIP
    assert form.check_note("I work shifts").value == "I work shifts"
    too_long = form.check_note("a" * (form.NOTE_MAX_LENGTH + 1))
    assert too_long.value is None and str(form.NOTE_MAX_LENGTH + 1) in too_long.problem


def test_times_are_limited():
    assert form.check_time("after 6pm").value == "after 6pm"
    assert form.check_time("x" * (form.TIME_MAX + 1)).value is None


def test_summary_reads_back_every_detail_in_uk_format():
    slots = {
        "callback_name": "Jess",
        "callback_phone": "+441134960461",
        "callback_safe_to_identify": False,
        "callback_time": "evenings",
        "callback_role": "person_harmed",
        "callback_note": form.SKIP,
    }
    text = form.summary(slots)
    assert "Jess" in text
    assert "0113 496 0461" in text
    assert "no, please don't" in text
    assert "evenings" in text
    assert "Person harmed" in text
    assert "Note: none" in text


def test_details_leave_skipped_answers_empty():
    details = form.details_from_slots({
        "callback_name": "Jess", "callback_phone": "+441134960461", "callback_safe_to_identify": True,
        "callback_time": "any time", "callback_role": form.SKIP, "callback_note": form.SKIP,
    })
    assert details.role is None and details.note is None and details.safe_to_identify is True


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yes", True), ("yeah go on", True), ("ok then", True), ("sure, that's fine", True),
        ("Yes, I'm happy with that", True), ("no problem", True), ("I don't mind", True), ("fine by me", True),
        ("that's ok", True), ("go ahead please", True), ("yep", True), ("aye", True),
        ("no", False), ("nope", False), ("no thanks", False), ("I'd rather not", False),
        ("no, I don't want my details kept", False), ("not really", False), ("nah", False),
        ("what do you mean?", None), ("Robin", None), ("is it free?", None),
    ],
)
def test_yes_and_no_in_many_words(text, expected):
    assert form.yes_or_no(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("yes", True),
        ("yeah that's fine, nobody else uses my phone", True),
        ("you can leave a message, it's my own mobile", True),
        ("yes, a voicemail is fine", True),
        ("Oh yes, you can say who you are", True),
        ("no", False),
        ("please don't leave anything, my partner reads my messages", False),
        ("no voicemail please", False),
        ("don't say where you're calling from", False),
        ("better not, my dad answers the landline", False),
        ("probably not", False),
        ("yes but don't say it's about restorative justice", False),
        ("yes, as long as you leave a message if I don't answer", True),
        ("he sometimes checks the phone", False),
        ("not sure", False),
        ("is that safe?", None),
        ("what's a voicemail", None),
    ],
)
def test_is_it_safe_to_leave_a_voicemail_any_doubt_is_no(text, expected):
    assert form.voicemail_is_safe(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "stop", "cancel", "please stop", "forget it", "never mind", "nevermind, sorry",
        "I've changed my mind", "actually I'm not ready for this", "scrap that, I don't want a call",
        "can we stop now", "on second thoughts, no", "no, I don't want you keeping my number",
        "nah leave it",
    ],
)
def test_cancelling_in_any_words(text):
    assert form.wants_to_cancel(text)


@pytest.mark.parametrize(
    "text",
    [
        "can I stop later if I want to?", "what if I change my mind?", "can I pull out at any time?",
        "I'm not ready to meet him yet", "you can leave a message", "Tuesday afternoon", "no thanks",
        "I'd like the team to stop calling my work number",
    ],
)
def test_questions_about_stopping_and_ordinary_answers_do_not_cancel(text):
    assert not form.wants_to_cancel(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hi, my name is Priya Shah, could someone call me?", "Priya Shah"),
        ("this is Tom Baker, 0113 496 0011, can I have a call back", "Tom Baker"),
        ("Its Leanne here, ring me pls", "Leanne"),
        ("name: mo khan. number 020 7946 0011", "mo khan"),
        ("hello I'm Gareth and I'd like a call", "Gareth"),
        ("I'm a social worker, can someone call me?", None),
        ("I'm his mum, can someone phone me", None),
        ("can someone ring me back", None),
    ],
)
def test_a_name_offered_in_the_opening_message(text, expected):
    assert form.offered_name(text) == expected


def test_a_time_given_as_a_labelled_detail():
    assert form.offered_time("Name: Jo. Best time: after school") == "after school"
    assert form.offered_time("can you ring me sometime") is None


@pytest.mark.parametrize(
    "text, expected",
    [("the time is wrong", "time"), ("can I change my number", "phone"), ("my name is spelt wrong", "name"),
     ("change the voicemail bit", "voicemail"), ("yes", None)],
)
def test_which_detail_a_correction_names(text, expected):
    assert form.detail_to_change(text) == expected


def test_a_name_refused_gets_a_kind_explanation():
    checked = form.check_name("no")
    assert checked.value is None and "first name" in checked.problem


@pytest.mark.parametrize("text", ["is it free?", "what happens at a meeting", "wat is rj"])
def test_questions_look_like_questions(text):
    assert form.looks_like_a_question(text)


@pytest.mark.parametrize("text", ["Robin", "evenings", "after the school run", "I'm his mum"])
def test_answers_do_not_look_like_questions(text):
    assert not form.looks_like_a_question(text)


# --- control and invisible characters are dropped at the edge of the form ---------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sa\x00m", "Sam"),
        ("\x1b[31mSam\x1b[0m", "[31mSam[0m"),
        ("Sam\u200b \u202eJones\u202c", "Sam Jones"),
        ("\ufeffZoë\u00ad", "Zoë"),
        ("Sam\r\nJones\x85", "Sam Jones"),
        ("Sam\tJones\x07", "Sam Jones"),
    ],
)
def test_names_lose_control_and_invisible_characters(text, expected):
    assert form.check_name(text) == form.Checked(expected)


def test_a_name_of_nothing_but_control_characters_is_not_a_name():
    checked = form.check_name("\x00\x1b\u200b\x07")
    assert checked.value is None and "name" in checked.problem


def test_time_and_note_lose_control_and_invisible_characters_and_keep_ordinary_spaces():
    assert form.check_time("after\x00 6pm\x1b\u2028weekdays") == form.Checked("after 6pm weekdays")
    assert form.check_note("line one\nline two\x00\u200d ok") == form.Checked("line one line two ok")
    assert form.check_note("\x00skip\x1b") == form.Checked(form.SKIP)
    assert form.offered_time("Best time: eve\x00nings") == "evenings"


@pytest.mark.parametrize("text", ["ye\u200bs", "\ufeffyes", "yes\x00"])
def test_invisible_characters_do_not_hide_an_answer(text):
    assert form.yes_or_no(text) is True


def test_what_the_form_keeps_is_always_accepted_by_the_store():
    from bot.callbacks.store import has_hidden_characters

    controls = [chr(c) for c in range(0x00, 0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
    hostile = "".join(controls) + "\u200b\u202e\u2066\ufeff\u2028\ud800\U000e0041"
    for check in (form.check_name, form.check_time, form.check_note):
        value = check(f"Sam{hostile} Jones{hostile}").value
        assert value == "Sam Jones", check.__name__
        assert not has_hidden_characters(value)
