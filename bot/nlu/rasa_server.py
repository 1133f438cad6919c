"""Rasa's own command line with one fix applied first: `python -m bot.nlu.rasa_server run ...` takes
exactly the arguments of `rasa run` (or `rasa shell`).

Rasa 3.6 checks every reply from the action server with `jsonschema.validate()`. That helper first
checks the schema itself against the JSON Schema meta-schema, on every call, although Rasa's schema
never changes: about 18 ms of CPU per call with jsonschema 4.17, spent in the event loop that serves
every conversation. Each step of the callback form makes one or two such calls; under load
(10 visitors, py-spy) this was close to 30 % of the Rasa server's CPU.

Here the validator is built and its schema checked once. A valid reply is accepted at once; an invalid
one still goes through Rasa's own check, so its error and message are unchanged. jsonschema's
documentation recommends this pattern for validating many instances against one schema. No option of
Rasa's turns this check into a cached one, hence this small wrapper.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction

_rasa_check = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def action_reply_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _checked_once(self: RemoteAction, result: Dict[str, Any]) -> bool:
    if action_reply_validator().is_valid(result):
        return True
    return _rasa_check(self, result)  # raises Rasa's own ValidationError, with its explanation


def check_action_replies_with_one_validator() -> None:
    RemoteAction._validate_action_result = _checked_once


def main() -> None:
    check_action_replies_with_one_validator()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
