"""The action server: rasa-sdk's app for the actions in `actions/`, on loopback, answering only Rasa.

`python -m bot.action_server` takes the arguments of `rasa run actions` (`--actions` defaults to `actions`,
`--port` to RG_ACTION_SERVER_PORT or 5055) and differs from it in four ways:

- It listens on 127.0.0.1 unless `--host` (or RG_ACTION_SERVER_HOST) says otherwise; rasa-sdk listens on
  every interface unless SANIC_HOST is set.
- Every call but GET /health must carry `Authorization: Bearer <RG_ACTION_SERVER_TOKEN>` (401 otherwise),
  the token Rasa sends from endpoints.yml; it refuses to start without one. The webhook receives whole
  conversations and stores callback requests, so nothing else on the machine may call it. rasa-sdk has
  no authentication of its own, hence this small check.
- Sanic closes a connection on which no request has arrived within KEEP_ALIVE_TIMEOUT (5 s by default),
  counting from when the connection opened. Rasa opens a new connection for every action call and, busy
  with other conversations, can write its request later than that: the call was lost ("Cannot write to
  closing transport"). The wait here is Rasa's own server's (120 s), far longer than Rasa waits for a reply.
- A failing action is logged by kind and place only, and the reply says only that it failed; rasa-sdk's
  handler logs the exception's message and sends the whole request (the conversation) back, which Rasa
  then logs.
"""
from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional

from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app, create_argument_parser, create_ssl_context
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

TOKEN_ENV = "RG_ACTION_SERVER_TOKEN"
HOST_ENV = "RG_ACTION_SERVER_HOST"
PORT_ENV = "RG_ACTION_SERVER_PORT"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
KEEP_ALIVE_TIMEOUT_S = 120  # Rasa's own server's (rasa.core.constants.DEFAULT_KEEP_ALIVE_TIMEOUT)
OPEN_PATHS = {"/health"}  # says only "ok": no personal data, and the launcher's health check needs no token


def authorised(header: Optional[str], token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def create_action_app(token: str, actions: str = "actions", cors_origins: Optional[List[str]] = None,
                      auto_reload: bool = False) -> Sanic:
    if not token:
        raise ValueError(f"{TOKEN_ENV} must be set: the action server answers only callers that send it")
    app = create_app(actions, cors_origins=cors_origins, auto_reload=auto_reload)
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_TIMEOUT_S

    @app.on_request
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS or authorised(request.headers.get("Authorization"), token):
            return None
        return response.json({"error": "unauthorised"}, status=401)

    @app.exception(Exception)  # replaces rasa-sdk's handler (the later one registered wins)
    async def failed(request: Request, error: Exception) -> HTTPResponse:
        if isinstance(error, SanicException):
            return response.json({"error": type(error).__name__}, status=error.status_code)
        try:
            action = (request.json or {}).get("next_action")
        except Exception:  # noqa: BLE001  (the body may not be JSON at all)
            action = None
        logger.error("Action %s failed: %s at %s", action if isinstance(action, str) else "?",
                     type(error).__name__, _where(error))
        return response.json({"error": "The action failed."}, status=500)

    return app


def argument_parser() -> argparse.ArgumentParser:
    parser = create_argument_parser()
    parser.description = "starts the action server on loopback, answering only callers with the token"
    parser.set_defaults(actions="actions", port=int(os.environ.get(PORT_ENV) or DEFAULT_PORT))
    parser.add_argument("--host", default=os.environ.get(HOST_ENV) or DEFAULT_HOST,
                        help=f"interface to listen on (default: {HOST_ENV} or {DEFAULT_HOST})")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = argument_parser().parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(f"{TOKEN_ENV} is not set. Set it to the same secret for this server and for Rasa "
              "(endpoints.yml sends it); `make run` makes one for each start.", file=sys.stderr)
        return 2
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel,
                                 args.logging_config_file)
    utils.update_sanic_log_level()
    app = create_action_app(token, args.actions, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    logger.info("Action server listening on %s://%s:%s", "https" if ssl_context else "http", args.host, args.port)
    app.run(args.host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
