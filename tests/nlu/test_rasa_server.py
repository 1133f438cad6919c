"""The Rasa command line the launcher starts: action server replies checked as strictly as by Rasa, calls to the
action server retried and limited in time, and nothing typed in the log."""
import json
import logging
import subprocess
import sys
import warnings

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError

from bot.nlu import rasa_server
from bot.settings import PROJECT_ROOT
from bot.web.chat_proxy import UPSTREAM_TIMEOUT_S

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


@pytest.mark.processes
def test_it_is_rasas_own_command_line():
    result = subprocess.run([sys.executable, "-m", "bot.nlu.rasa_server", "run", "--help"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--enable-api" in result.stdout and "--endpoints" in result.stdout


# What Rasa's own code would log, with what a visitor typed in it.
TYPED = ("Ottoline", "0113 496 0175", "+441134960175")


def logged(record: logging.LogRecord) -> str:
    rasa_server.WithholdTypedText().filter(record)
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)


def action_server_error() -> BaseException:
    """What Rasa raises when the action server answers 500 with the conversation in its body."""
    body = json.dumps({"error": "x", "request_body": {"tracker": {"latest_message": {"text": " ".join(TYPED)}}}})
    try:
        try:
            raise ClientResponseError(500, "Internal Server Error", body)
        except ClientResponseError as error:
            raise RasaException("Failed to execute custom action 'action_submit_callback'") from error
    except RasaException as error:
        return error


def test_an_exception_is_logged_by_kind_and_place_never_its_message():
    error = action_server_error()
    record = logging.getLogger("rasa.core.processor").makeRecord(
        "rasa.core.processor", logging.ERROR, __file__, 1, "Encountered an exception while running action '%s'.",
        ("callback_form",), (type(error), error, error.__traceback__))
    text = logged(record)
    assert "Encountered an exception while running action 'callback_form'." in text
    assert "RasaException <- ClientResponseError at test_rasa_server.py:" in text
    assert not any(typed in text for typed in TYPED) and "request_body" not in text


@pytest.mark.parametrize("logger, message", [
    ("rasa.core.channels.rest", json.dumps({"text": TYPED[1], "event": "rest.message.received.timeout"})),
    ("rasa.shared.core.training_data.story_reader.yaml_story_reader",
     json.dumps({"user_text": f"/{TYPED[1]}", "event": "message.parsing.failed"})),
    ("py.warnings", f"UserWarning: Failed to parse arguments in line '/greet {TYPED[1]}'. Failed to interpret"),
    ("rasa.shared.core.events",
     json.dumps({"rasa_event": {"value": TYPED[2]}, "event": "event.deserialization.failed"})),
    ("rasa.core.processor", f"Circuit breaker tripped. Stopped predicting more actions for sender '{TYPED[0]}'."),
])
def test_rasas_records_that_quote_a_message_are_withheld(logger, message):
    record = logging.getLogger(logger).makeRecord(logger, logging.WARNING, __file__, 1, message, (), None)
    text = logged(record)
    assert "withheld" in text or "Circuit breaker tripped" in text
    assert not any(typed in text for typed in TYPED)


def test_other_records_are_left_as_they_are():
    record = logging.getLogger("rasa.core.run").makeRecord(
        "rasa.core.run", logging.INFO, __file__, 1, "Starting Rasa server on %s", ("http://127.0.0.1:5005",), None)
    assert logged(record) == "INFO rasa.core.run Starting Rasa server on http://127.0.0.1:5005"


def test_installed_every_record_and_warning_is_withheld_whatever_its_handler(monkeypatch, caplog):
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    monkeypatch.setattr(logging, "_warnings_showwarning", None)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    rasa_server.withhold_typed_text()
    rasa_server.withhold_typed_text()  # once is enough; twice changes nothing
    caplog.set_level(logging.INFO)
    error = action_server_error()
    logging.getLogger("rasa.core.processor").error("Action failed", exc_info=error)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"Failed to parse arguments in line '/greet {TYPED[0]}'.", UserWarning, stacklevel=1)
    assert "RasaException <- ClientResponseError" in caplog.text and "could not be read as an intent" in caplog.text
    assert not any(typed in caplog.text for typed in TYPED)


def test_rasa_calls_the_action_server_with_the_token_retries_and_a_time_limit(monkeypatch):
    from rasa.core.utils import AvailableEndpoints

    monkeypatch.setenv("RG_ACTION_SERVER_TOKEN", "the-token")
    monkeypatch.setattr(AvailableEndpoints, "read_endpoints", AvailableEndpoints.read_endpoints)
    rasa_server.call_actions_with_retries()
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    assert isinstance(endpoints.action, rasa_server.ActionServerEndpoint)
    assert endpoints.action.headers == {"Authorization": "Bearer the-token"}
    assert endpoints.action.url == "http://127.0.0.1:5055/webhook"
    assert endpoints.tracker_store.type == "bot.nlu.tracker_store.ForgetfulTrackerStore"
    assert rasa_server.ACTION_CALL_TIMEOUT_S < UPSTREAM_TIMEOUT_S
