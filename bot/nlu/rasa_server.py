"""Rasa's own command line with three fixes applied first: `python -m bot.nlu.rasa_server run ...` takes
exactly the arguments of `rasa run` (or `rasa shell`).

1. Action server replies are checked with a validator built once. Rasa 3.6 checks every reply with
   `jsonschema.validate()`, which first checks the schema itself against the JSON Schema meta-schema, on
   every call, although Rasa's schema never changes: about 18 ms of CPU per call with jsonschema 4.17, spent
   in the event loop that serves every conversation (close to 30 % of the Rasa server's CPU under load with
   10 visitors, py-spy). Here the validator is built and its schema checked once; a valid reply is accepted
   at once, an invalid one still goes through Rasa's own check, so its error and message are unchanged.
   jsonschema's documentation recommends this pattern. No option of Rasa's turns this check into a cached one.

2. Calls to the action server are retried when the connection is lost before a reply, and limited in time.
   Rasa opens a new connection for every call and, while it is busy with other conversations, may write
   the request seconds after connecting; a call that meets a restarting action server, or a connection the
   server has closed, was otherwise lost ("the actions events are lost"), and the visitor's message with it.
   Retrying is safe: the form's actions only compute events, and storing a request is idempotent. The limit
   (below the website app's wait for Rasa) makes a hung action server cost the visitor one honest failure,
   not a silent five-minute wait (Rasa's fixed `DEFAULT_REQUEST_TIMEOUT`). The retries are aiohttp-retry's
   (installed with Rasa, pinned in requirements.lock), given the session Rasa would have used; `endpoints.yml`
   has no setting for either.

3. What people type never reaches the log. A few of Rasa's own log records carry the text of a message,
   a sender id or a whole conversation (in an exception's message, such as the body of an action server's
   error reply). `WithholdTypedText` rewrites those records: the known ones to a fixed sentence, and any
   exception to its kind and where it was raised. It is installed as the log record factory rather than on
   handlers, because Rasa sets up its handlers (coloredlogs, structlog) only after this module runs and
   structlog creates a logger per module: every record, whatever its logger and handler, is made there.
"""
from __future__ import annotations

import logging
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Text

import aiohttp
from aiohttp_retry import ExponentialRetry, RetryClient
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import EndpointConfig

_rasa_check = RemoteAction._validate_action_result
_rasa_read_endpoints = AvailableEndpoints.read_endpoints.__func__

# Well below the website app's 30 s wait for Rasa (bot/web/chat_proxy.py): a hung action server (which the
# launcher replaces after about 6 s) costs the visitor one honest failure, with room for Rasa's own work.
ACTION_CALL_TIMEOUT_S = 15.0
# Attempts 0.5, 1, 2, 4 and 4 s apart: 11.5 s covers the launcher noticing that the action server exited or
# hung and starting it again (about 3 s to start), so the visitor's message gets through.
ACTION_CALL_RETRY = ExponentialRetry(
    attempts=6, start_timeout=0.25, factor=2.0, max_timeout=4.0,
    # The request never arrived, or its reply never came: refused, reset, closed. A timeout is not retried
    # (it has already cost its time), nor is an answer, whatever its status.
    exceptions={aiohttp.ClientOSError, aiohttp.ServerDisconnectedError},
    retry_all_server_errors=False,
)


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


class ActionServerEndpoint(EndpointConfig):
    """The `action_endpoint` of endpoints.yml, called with retries and a time limit (fix 2 above)."""

    @classmethod
    def of(cls, config: EndpointConfig) -> "ActionServerEndpoint":
        return cls(config.url, config.params, config.headers, config.basic_auth, config.token, config.token_name,
                   cafile=config.cafile, **config.kwargs)

    def session(self) -> RetryClient:  # type: ignore[override]
        return RetryClient(client_session=super().session(), retry_options=ACTION_CALL_RETRY)

    async def request(self, *args: Any, **kwargs: Any) -> Optional[Any]:
        kwargs["timeout"] = aiohttp.ClientTimeout(total=ACTION_CALL_TIMEOUT_S)
        return await super().request(*args, **kwargs)


def _read_endpoints(cls, endpoint_file: Text) -> AvailableEndpoints:
    endpoints = _rasa_read_endpoints(cls, endpoint_file)
    if endpoints.action is not None:
        endpoints.action = ActionServerEndpoint.of(endpoints.action)
    return endpoints


def call_actions_with_retries() -> None:
    AvailableEndpoints.read_endpoints = classmethod(_read_endpoints)


# Fragments of the log records in which Rasa's own code prints what was typed (or a sender id, or a whole
# event), at INFO or above, in the setup this project runs; and what is logged in their place.
WITHHELD = {
    # Rasa's own REST channel (bot.nlu.rest_channel replaces it; kept in case it is configured again).
    "rest.message.received": "A message to the REST channel failed or timed out (text withheld)",
    # Text starting with "/" that is not an intent command, or names an unknown intent or bad entities.
    "message.parsing.failed": "A message starting with '/' is not an intent command; read as text (withheld)",
    "Failed to parse arguments in line": "A message starting with '/' could not be read as an intent "
                                         "command (text withheld)",
    # An event from the action server that Rasa cannot read: it may hold a slot's value.
    "event.deserialization.failed": "An event from the action server could not be read (event withheld)",
    "Event from parameters called with parameters": "An event was given conflicting parameters (withheld)",
    "Circuit breaker tripped": "Circuit breaker tripped: stopped predicting more actions for a conversation",
    # The tracker store's fallback quotes the error, whatever it holds.
    "Error happened when trying to save conversation tracker": "Saving a conversation failed; kept in memory "
                                                               "instead (error withheld)",
    "Error happened when trying to retrieve conversation tracker": "Reading a conversation failed; using memory "
                                                                   "instead (error withheld)",
}


def _exception_summary(error: BaseException) -> str:
    """The kinds of an exception and of its causes, and where it was raised: never their messages, which
    may hold a message's text or the whole conversation (an action server's error reply, for instance)."""
    kinds, seen, current = [], set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kinds.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"[{' <- '.join(kinds)}{where}; details withheld]"


class WithholdTypedText(logging.Filter):
    """Rewrites a record that would show what someone typed (fix 3 above); lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  (a record whose arguments do not fit its format)
            message = str(record.msg)
        withheld = next((instead for fragment, instead in WITHHELD.items() if fragment in message), None)
        if withheld is not None:
            record.msg, record.args = withheld, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.msg, record.args = f"{withheld or message} {_exception_summary(record.exc_info[1])}", ()
            record.exc_info, record.exc_text = None, None
        return True


def withhold_typed_text() -> None:
    withhold = WithholdTypedText()
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "withholds_typed_text", False):
        return

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make_record(*args, **kwargs)
        withhold.filter(made)
        return made

    record.withholds_typed_text = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)
    logging.captureWarnings(True)  # Rasa's warnings about unreadable intent commands quote the message


def main() -> None:
    withhold_typed_text()
    check_action_replies_with_one_validator()
    call_actions_with_retries()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
