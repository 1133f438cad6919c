"""The danger net (bot/nlu/danger.py): danger now and suicidal feelings in everyday words, and what is not danger."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.danger import DANGER, SELF_HARM, danger_in_words, emergency_from_ranking
from bot.nlu.danger_net import DangerNet


@pytest.mark.parametrize(
    "text",
    [
        "hes back",
        "he's round my house again",
        "my ex is at the door and won't go",
        "someone is outside the window",
        "there's a man outside my flat again right now",
        "he's just turned up at my mum's",
        "she's pulled up outside the school",
        "I can see his car at the end of the road",
        "he keeps banging on the front door",
        "someone's trying to get in the back door",
        "he won't let me leave the house",
        "my partner has just punched me",
        "he's hitting me",
        "he hit me again",
        "he's following me down the high street",
        "he texted saying he'll kill me tonight",
        "she's threatening to stab me",
        "he's got a knife",
        "someone has just been stabbed on our road",
        "I've locked myself in the bedroom",
        "im hiding from him in the loo",
        "sorry I wanted to ask about letters but he's here now and he's shouting",
        "hes in the house",
        "he's just smashed the front door in",
        "the man upstairs is battering his girlfriend right now",
        "my dad says he's coming round to sort me out, he's ten minutes away",
        "hes folowing me",
        "I'm not safe at home",
    ],
)
def test_danger_now_is_caught_in_everyday_words(text):
    assert danger_in_words(text) == DANGER


@pytest.mark.parametrize(
    "text",
    [
        "i want to end my life",
        "I'm going to kill myself",
        "thinking of hurting myself again",
        "I don't want to be here any more",
        "everyone would be better off without me",
        "what's the point in living",
        "I won't be around much longer",
        "i cant cope anymore",
        "I've had enough of life",
        "I've saved up all my tablets",
        "wish I was dead",
        "I've been self harming since it happened",
        "feeling suicidal tonight",
        "kms",
        "I've taken too many tablets",
        "this is my last message",
        "I'm on the bridge, standing on the edge",
        "by the time anyone reads this I'll be gone",
    ],
)
def test_suicidal_feelings_are_caught_in_everyday_words(text):
    assert danger_in_words(text) == SELF_HARM


@pytest.mark.parametrize(
    "text",
    [
        "What is restorative justice?",
        "he hit me two years ago, could restorative justice help?",
        "I was attacked last year and still have nightmares",
        "Will he find out where I live if we meet?",
        "What if he turns up at my house after the meeting?",
        "is it safe to meet him?",
        "My ex was abusive. Is this suitable for domestic abuse?",
        "The man who assaulted me wants to say sorry",
        "my neighbour keeps parking over my drive",
        "I saw a fight outside a pub and it has stayed with me",
        "I'm not suicidal, I just need someone to talk to",
        "im not going to hurt myself but things are hard",
        "is RJ used for knife crime?",
        "can this chat send help?",
        "no, don't leave a message, he checks my phone",
        "wait, the number was wrong, it's 0113 496 0555",
        "When is someone in the office?",
        "/affirm",
        "",
    ],
)
def test_questions_about_the_past_or_what_might_happen_are_not_emergencies(text):
    assert danger_in_words(text) is None


def test_the_classifier_can_raise_an_emergency_that_was_not_its_first_choice():
    ranking = [{"name": "faq", "confidence": 0.4}, {"name": "emergency_danger", "confidence": 0.55}]
    assert emergency_from_ranking(list(reversed(ranking)), 0.3, 0.5) == DANGER
    second = [{"name": "faq", "confidence": 0.6}, {"name": "emergency_danger", "confidence": 0.35}]
    assert emergency_from_ranking(second, 0.3, 0.5) is None


def test_an_unsure_classifier_with_an_emergency_first_but_low_is_not_an_emergency():
    ranking = [{"name": "emergency_self_harm", "confidence": 0.25}, {"name": "out_of_scope", "confidence": 0.22}]
    assert emergency_from_ranking(ranking, 0.3, 0.5) is None
    ranking[0]["confidence"] = 0.35
    assert emergency_from_ranking(ranking, 0.3, 0.5) == SELF_HARM


def test_the_net_turns_the_intent_into_the_emergency_and_keeps_the_rest_of_the_ranking():
    net = DangerNet({})
    message = Message(data={"text": "hes banging on the windows", "intent": {"name": "nlu_fallback", "confidence": 0.3},
                            "intent_ranking": [{"name": "faq", "confidence": 0.2}]})
    net.process([message])
    assert message.get("intent") == {"name": DANGER, "confidence": 1.0}
    assert [item["name"] for item in message.get("intent_ranking")] == [DANGER, "faq"]


def test_the_net_leaves_other_messages_alone():
    net = DangerNet({})
    intent = {"name": "faq", "confidence": 0.9}
    message = Message(data={"text": "is it free?", "intent": intent,
                            "intent_ranking": [{"name": "faq", "confidence": 0.9},
                                               {"name": "emergency_danger", "confidence": 0.05}]})
    net.process([message])
    assert message.get("intent") == intent
