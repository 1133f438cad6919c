"""Configuration read from environment variables, with embedded defaults.

Every setting has a default that works on a fresh clone (SQLite files under var/, no mail server,
everything on loopback), so `make run` needs no configuration. Production sets the RG_* variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

CONTACT_EMAIL = "contactus@restorativegloucestershire.co.uk"  # facts.md section 0
# Tools that play many visitors from this one machine (make eval, the whole-stack tests) lift the chat limits,
# which are meant for real visitors, each on their own phone or computer.
CHAT_LIMITS_LIFTED = {"RG_CHAT_LIMIT_PER_ADDRESS": "100000", "RG_CHAT_LIMIT_PER_SENDER": "100000"}
OFFICE_PHONE_E164 = "+441452754542"  # the service's own voicemail line (facts.md section 0), never a caller's
# An everyday site, so a glance at the screen after Quick exit gives nothing away.
DEFAULT_QUICK_EXIT_URL = "https://www.bbc.co.uk/weather"
# Messages a minute to the chat. A person types at most a message every couple of seconds; a household or an
# office shares one address, so an address has room for several people at once.
CHAT_LIMIT_PER_SENDER = 30
# Messages with Rasa at once from this web app. Rasa answers one at a time on its event loop, so more would only
# queue inside it until they time out; past this a visitor is told at once that it is busy.
CHAT_MAX_IN_FLIGHT = 8
CHAT_LIMIT_PER_ADDRESS = 60
# How long a redacted unanswered question is kept for the team (bot/learning/), unless RG_LEARNING_DAYS says.
LEARNING_DAYS = 30


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _list(env: Mapping[str, str], name: str, default: Tuple[str, ...]) -> Tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: Optional[str]
    password: Optional[str] = field(repr=False)
    starttls: bool
    sender: str
    recipient: str


@dataclass(frozen=True)
class Settings:
    database_url: str
    retention_days: int
    smtp: Optional[SmtpSettings]  # None: staff notification is disabled
    production: bool
    web_host: str
    web_port: int
    allowed_origins: Tuple[str, ...]
    rasa_url: str
    action_server_port: int
    staff_password_hash: Optional[str] = field(repr=False)
    secret_key: Optional[str] = field(repr=False)
    quick_exit_url: str = DEFAULT_QUICK_EXIT_URL
    chat_limit_per_sender: int = CHAT_LIMIT_PER_SENDER
    chat_limit_per_address: int = CHAT_LIMIT_PER_ADDRESS
    chat_max_in_flight: int = CHAT_MAX_IN_FLIGHT
    # Behind a reverse proxy: how to find the visitor's address (Sanic's PROXIES_COUNT, REAL_IP_HEADER and
    # FORWARDED_SECRET). By default no forwarded header is trusted, so nobody can choose their own address.
    # RG_LEARNING=off: no answer votes and no unanswered questions are kept, and the privacy answer says so.
    # Several website app replicas share their state (chat limits, staff sessions) in Redis; None: in process.
    redis_url: Optional[str] = None
    learning: bool = True
    learning_days: int = LEARNING_DAYS
    proxies_count: int = 0
    real_ip_header: Optional[str] = None
    forwarded_secret: Optional[str] = field(default=None, repr=False)

    @property
    def notifications_enabled(self) -> bool:
        return self.smtp is not None


def load_settings(env: Mapping[str, str] = os.environ) -> Settings:
    smtp_host = env.get("RG_SMTP_HOST", "").strip()
    smtp = None
    if smtp_host:
        recipient = env.get("RG_NOTIFY_TO", "").strip()
        if not recipient:
            raise SettingsError("RG_NOTIFY_TO must name the staff address when RG_SMTP_HOST is set")
        smtp = SmtpSettings(
            host=smtp_host,
            port=_int(env, "RG_SMTP_PORT", 587, minimum=1),
            username=env.get("RG_SMTP_USER") or None,
            password=env.get("RG_SMTP_PASSWORD") or None,
            starttls=_bool(env, "RG_SMTP_STARTTLS", True),
            sender=env.get("RG_SMTP_FROM", "assistant@localhost").strip(),
            recipient=recipient,
        )
    if (env.get("RG_REDIS_URL") or "").strip() and not env.get("RG_SECRET_KEY"):
        # Every replica must sign and recognise the same staff cookies, and hash the same keys.
        raise SettingsError("RG_SECRET_KEY must be set when RG_REDIS_URL is (the replicas share it)")
    web_port = _int(env, "RG_WEB_PORT", 8000, minimum=1)
    default_origin = f"http://127.0.0.1:{web_port}", f"http://localhost:{web_port}"
    return Settings(
        database_url=env.get("RG_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'callbacks.sqlite3'}",
        retention_days=_int(env, "RG_RETENTION_DAYS", 90, minimum=1),
        smtp=smtp,
        production=_bool(env, "RG_PRODUCTION", False),
        web_host=env.get("RG_WEB_HOST", "127.0.0.1"),
        web_port=web_port,
        allowed_origins=_list(env, "RG_ALLOWED_ORIGINS", default_origin),
        rasa_url=(env.get("RG_RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
        action_server_port=_int(env, "RG_ACTION_SERVER_PORT", 5055, minimum=1),
        staff_password_hash=env.get("RG_STAFF_PASSWORD_HASH") or None,
        secret_key=env.get("RG_SECRET_KEY") or None,
        quick_exit_url=env.get("RG_QUICK_EXIT_URL") or DEFAULT_QUICK_EXIT_URL,
        chat_limit_per_sender=_int(env, "RG_CHAT_LIMIT_PER_SENDER", CHAT_LIMIT_PER_SENDER, minimum=1),
        chat_limit_per_address=_int(env, "RG_CHAT_LIMIT_PER_ADDRESS", CHAT_LIMIT_PER_ADDRESS, minimum=1),
        chat_max_in_flight=_int(env, "RG_CHAT_MAX_IN_FLIGHT", CHAT_MAX_IN_FLIGHT, minimum=1),
        redis_url=(env.get("RG_REDIS_URL") or "").strip() or None,
        learning=_bool(env, "RG_LEARNING", True),
        learning_days=_int(env, "RG_LEARNING_DAYS", LEARNING_DAYS, minimum=1),
        proxies_count=_int(env, "RG_PROXIES_COUNT", 0),
        real_ip_header=(env.get("RG_REAL_IP_HEADER") or "").strip() or None,
        forwarded_secret=env.get("RG_FORWARDED_SECRET") or None,
    )
