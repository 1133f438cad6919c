"""The Rasa command line the launcher starts: action server replies are checked as strictly as by Rasa."""
import subprocess
import sys

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

from bot.nlu import rasa_server
from bot.settings import PROJECT_ROOT

A_FORM_STEP_REPLY = {
    "events": [
        {"event": "slot", "timestamp": None, "name": "callback_name", "value": "Sam"},
        {"event": "slot", "timestamp": None, "name": "requested_slot", "value": "callback_phone"},
    ],
    "responses": [{"text": None, "response": "utter_ask_callback_phone", "buttons": [], "elements": [],
                   "custom": {}, "template": "utter_ask_callback_phone", "image": None, "attachment": None}],
}


@pytest.fixture
def remote_action(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    rasa_server.action_reply_validator.cache_clear()
    rasa_server.check_action_replies_with_one_validator()
    return RemoteAction("validate_callback_form", None)


def test_a_valid_reply_is_accepted(remote_action):
    assert remote_action._validate_action_result(A_FORM_STEP_REPLY) is True


@pytest.mark.parametrize("reply", [
    {"events": [{"event": "slot", "name": "callback_name"}]},  # a slot event without its value
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [{"text": "hi"}, "not an object"]},
])
def test_an_invalid_reply_is_refused_with_rasas_explanation(remote_action, reply):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        remote_action._validate_action_result(reply)


def test_the_schema_itself_is_checked_once_not_on_every_reply(remote_action, monkeypatch):
    validator_class = validator_for(RemoteAction.action_response_format_spec())
    checks = []
    original = validator_class.check_schema
    monkeypatch.setattr(validator_class, "check_schema", classmethod(
        lambda cls, schema, *args, **kwargs: checks.append(1) or original(schema, *args, **kwargs)))
    for _ in range(5):
        remote_action._validate_action_result(A_FORM_STEP_REPLY)
    assert len(checks) == 1


def test_it_is_rasas_own_command_line():
    result = subprocess.run([sys.executable, "-m", "bot.nlu.rasa_server", "run", "--help"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--enable-api" in result.stdout and "--endpoints" in result.stdout
