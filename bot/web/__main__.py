"""`python -m bot.web`: serve the chat proxy, widget and staff pages with settings from the environment."""
from __future__ import annotations

import logging
import sys

from bot.settings import SettingsError, load_settings


def main() -> int:
    # Sanic sets up its own loggers; only the project's need a handler (a root handler would print Sanic's twice).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    project_log = logging.getLogger("bot")
    project_log.addHandler(handler)
    project_log.setLevel(logging.INFO)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return 2

    from bot.callbacks.store import CallbackStore
    from bot.web.app import create_app

    store = CallbackStore.from_settings(settings)
    try:
        from bot.learning.grouping import GROUPING_EVERY_S

        app = create_app(settings, store, group_every_s=GROUPING_EVERY_S)
        # One worker: staff sessions and sign-in throttling live in this process's memory.
        app.run(host=settings.web_host, port=settings.web_port, workers=1, access_log=False, debug=False)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
