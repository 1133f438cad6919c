"""Every answer rests on the fact sheet and keeps to its rules (shared/knowledge/facts.md)."""
from __future__ import annotations

import re

import pytest

from bot.nlu import facts_check as facts

VARIATIONS = facts.load_responses()
KNOWN_IDS = facts.load_fact_ids()
EXAMPLES = facts.load_examples()
TITLES = facts.titles(VARIATIONS)
INTENTS = facts.load_domain_intents()
RETRIEVAL_ANSWERS = [v for v in VARIATIONS if v.sub_intent]


def by_label(variations):
    return pytest.mark.parametrize("v", variations, ids=[v.label for v in variations])


def assert_no_problems(v, problems):
    assert not problems, f"{v.label} ({v.source}): " + "; ".join(problems)


def test_fact_sheet_has_every_section():
    prefixes = {fact_id[0] for fact_id in KNOWN_IDS}
    assert prefixes == {"S", "W", "E", "N"}, f"fact sheet at {facts.facts_path()} gave only {sorted(KNOWN_IDS)}"


def test_fact_sheet_path_can_be_overridden(tmp_path, monkeypatch):
    sheet = tmp_path / "facts.md"
    sheet.write_text("- **S01**: one fact.\n- **E09**: another.\n", encoding="utf-8")
    monkeypatch.setenv("RG_FACTS_PATH", str(sheet))
    assert facts.facts_path() == sheet
    assert facts.load_fact_ids() == {"S01", "E09"}


def test_every_allowed_number_is_in_the_fact_sheet():
    sheet_digits = re.sub(r"\D", "", facts.facts_path().read_text(encoding="utf-8"))
    missing = [n for n in facts.ALLOWED_NUMBERS if n not in sheet_digits]
    assert not missing, f"allowed numbers not found in the fact sheet: {missing}"


def test_responses_were_found():
    names = {v.response for v in VARIATIONS}
    for expected in ("utter_greet", "utter_default", "utter_emergency_danger",
                     "utter_emergency_self_harm", "utter_faq/cost", "utter_out_of_scope/legal_advice"):
        assert expected in names, f"{expected} is missing from domain.yml and data/responses/"


def test_every_topic_has_an_answer_and_examples():
    problems = facts.check_retrieval_coverage(VARIATIONS, EXAMPLES)
    assert not problems, "; ".join(problems)


def test_titles_are_unique():
    seen = {}
    for v in RETRIEVAL_ANSWERS:
        assert v.title not in seen, f"{v.label} and {seen[v.title]} share the title {v.title!r}"
        seen[v.title] = v.label


@by_label(VARIATIONS)
def test_cites_facts(v):
    assert_no_problems(v, facts.check_cites_facts(v))


@by_label(VARIATIONS)
def test_cited_facts_exist(v):
    assert_no_problems(v, facts.check_fact_ids_exist(v, KNOWN_IDS))


@by_label(VARIATIONS)
def test_factless_answers_carry_no_details(v):
    assert_no_problems(v, facts.check_factless_is_plain(v))


@by_label(VARIATIONS)
def test_phone_numbers_are_allowed_and_cited(v):
    assert_no_problems(v, facts.check_phone_numbers(v))


@by_label(VARIATIONS)
def test_only_the_service_email(v):
    assert_no_problems(v, facts.check_emails(v))


@by_label(VARIATIONS)
def test_only_the_service_website(v):
    assert_no_problems(v, facts.check_urls(v))


@by_label(VARIATIONS)
def test_no_forbidden_phrases(v):
    assert_no_problems(v, facts.check_forbidden_phrases(v))


@by_label(VARIATIONS)
def test_answers_are_short(v):
    assert_no_problems(v, facts.check_length(v))


@by_label(RETRIEVAL_ANSWERS)
def test_title_is_a_training_example_of_its_topic(v):
    assert_no_problems(v, facts.check_title(v, EXAMPLES))


@by_label(VARIATIONS)
def test_buttons_lead_to_answers(v):
    assert_no_problems(v, facts.check_buttons(v, TITLES, INTENTS))


def test_emergency_answers_give_999_first():
    for name in ("utter_emergency_danger", "utter_emergency_self_harm"):
        for v in (v for v in VARIATIONS if v.response == name):
            assert "999" in v.text, f"{v.label} does not give 999"
    danger = next(v for v in VARIATIONS if v.response == "utter_emergency_danger")
    assert "999" in danger.text.split(".")[0], f"{danger.label}: 999 is not in the first sentence"
    self_harm = next(v for v in VARIATIONS if v.response == "utter_emergency_self_harm")
    assert "116 123" in self_harm.text, f"{self_harm.label} does not give the Samaritans number"


def test_voicemail_number_is_called_a_voicemail_line():
    for v in VARIATIONS:
        if "01452754542" in facts.phone_numbers(v.text):
            assert "voicemail" in v.text.lower(), f"{v.label} gives the office number without saying it is voicemail"


# The checks themselves: each catches what it is meant to catch.

def make(text, facts_=None, **extra):
    metadata = {"facts": facts_} if facts_ is not None else {}
    metadata.update(extra)
    return facts.Variation(response="utter_faq/cost", index=0, text=text, metadata=metadata,
                           source="data/responses/faq.yml")


@pytest.mark.parametrize(
    "variation, check",
    [
        (make("Free."), facts.check_cites_facts),
        (make("Free.", ["W99"]), lambda v: facts.check_fact_ids_exist(v, KNOWN_IDS)),
        (make("Call 999.", []), facts.check_factless_is_plain),
        (make("Ring 0800 123 4567.", ["E01"]), facts.check_phone_numbers),
        (make("Ring 999.", ["W03"]), facts.check_phone_numbers),
        (make("Write to help@example.org.", ["seed"]), facts.check_emails),
        (make("See https://example.com/page.", ["seed"]), facts.check_urls),
        (make("The perpetrator must agree.", ["W21"]), facts.check_forbidden_phrases),
        (make("A meeting is guaranteed.", ["W05"]), facts.check_forbidden_phrases),
        (make("Someone will call you within 2 days.", ["W02"]), facts.check_forbidden_phrases),
        (make("It can reduce your sentence.", ["W26"]), facts.check_forbidden_phrases),
        (make("Staff read this 24/7.", ["N06"]), facts.check_forbidden_phrases),
        (make("word " * 91, ["W03"]), facts.check_length),
        (make("Free.", ["W03"], title="How much is a pint?"), lambda v: facts.check_title(v, EXAMPLES)),
    ],
)
def test_checks_catch_problems(variation, check):
    assert check(variation), f"{check} let through {variation.text!r}"


def test_checks_allow_years_percentages_and_sums():
    v = make("A study (2001 to 2008) found 85% were satisfied; £8 per £1 is quoted.", ["W29", "W30"])
    assert facts.check_phone_numbers(v) == []
    assert facts.check_factless_is_plain(make("Take care.", [])) == []


def test_check_all_is_clean_for_the_project():
    assert facts.check_all() == [], "\n".join(facts.check_all())


def test_an_honest_no_guarantee_is_allowed_but_a_promise_is_not():
    assert facts.check_forbidden_phrases(make("A referral doesn't guarantee contact.", ["W08"])) == []
    assert facts.check_forbidden_phrases(make("There's no guarantee it will happen.", ["W08"])) == []
    assert facts.check_forbidden_phrases(make("Contact is guaranteed.", ["W08"]))
