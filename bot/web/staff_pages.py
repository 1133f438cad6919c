"""The staff pages: sign-in, the callback list, one request, status changes and the CSV export; and what visitors
asked that the assistant could not answer, with the votes on its answers (/staff/learning).

One blueprint serves every app; each app keeps its own sign-in state on `app.ctx` (see `add_staff_pages`).
"""
from __future__ import annotations

import asyncio
import io
import logging
import secrets
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import wraps
from typing import List, Optional, Tuple

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, raw, redirect, text

from bot.callbacks.dialling import dial_format, tel_href
from bot.callbacks.notifications import count_undeliverable, undeliverable_warning
from bot.callbacks.staff_time import format_day_for_staff
from bot.callbacks.store import Status, StoreUnavailable, UnknownReference, visible_text
from bot.web.passwords import hash_password, is_valid_hash, verify_password
from bot.web.rendering import render_html
from bot.web.staff_sessions import (
    IDLE_LIMIT_S,
    LOGIN_COOKIE,
    LOGIN_WINDOW_S,
    SESSION_COOKIE,
    LoginThrottle,
    SessionStore,
    StaffSession,
    clear_cookie,
    client_address,
    form_token_matches,
    set_cookie,
)

log = logging.getLogger(__name__)

staff = Blueprint("staff", url_prefix="/staff")

INVALID_HASH_REFUSAL = (
    "RG_STAFF_PASSWORD_HASH is not a valid password hash. Create one with "
    "'python -m bot.web.passwords', set it, and restart the web server."
)
NO_PASSWORD_REFUSAL = (
    "Staff sign-in is switched off because no staff password is set. Create one with "
    "'python -m bot.web.passwords', put the result in RG_STAFF_PASSWORD_HASH, and restart the web server."
)
FILTERS = (("all", "All requests"), *((status.value, status.label) for status in Status))
NEXT_STEPS = {
    Status.NEW: ((Status.IN_PROGRESS, "Mark in progress"), (Status.DONE, "Mark done")),
    Status.IN_PROGRESS: ((Status.DONE, "Mark done"), (Status.NEW, "Move back to new")),
    Status.DONE: ((Status.IN_PROGRESS, "Reopen"),),
}


def add_staff_pages(app: Sanic) -> None:
    """Give the app its own sessions, throttle and password check from app.ctx.settings, then the pages."""
    settings = app.ctx.settings
    if not settings.secret_key and settings.production:
        log.warning("RG_SECRET_KEY is not set: staff are signed out whenever the web server restarts")
    secret = (settings.secret_key or "").encode("utf-8") or secrets.token_bytes(32)
    if getattr(app.ctx, "redis", None) is not None:
        from bot.web.shared_state import SharedLoginThrottle, SharedSessionStore

        app.ctx.staff_sessions = SharedSessionStore(app.ctx.redis, secret)
        app.ctx.login_throttle = SharedLoginThrottle(app.ctx.redis, secret)
    else:
        app.ctx.staff_sessions = SessionStore(secret)
        app.ctx.login_throttle = LoginThrottle()
    app.ctx.staff_password_hash, app.ctx.staff_refusal = _password_hash_or_refusal(settings)
    app.ctx.staff_grouping = None  # the run "Group new questions now" started, while it lasts
    app.register_listener(_stop_grouping, "before_server_stop")
    if app.ctx.staff_refusal:
        log.error(app.ctx.staff_refusal)
    app.blueprint(staff)


def _password_hash_or_refusal(settings) -> tuple[Optional[str], Optional[str]]:
    password_hash = settings.staff_password_hash
    if password_hash and not is_valid_hash(password_hash):
        return None, INVALID_HASH_REFUSAL
    if password_hash:
        return password_hash, None
    if settings.production:
        return None, NO_PASSWORD_REFUSAL
    # Development only: a fresh password for each start, shown once on this console and never stored.
    one_time = secrets.token_urlsafe(12)
    print(
        f"Staff pages (development): sign in at /staff with the one-time password {one_time}\n"
        "  (set RG_STAFF_PASSWORD_HASH from 'python -m bot.web.passwords' to choose your own)",
        file=sys.stderr,
        flush=True,
    )
    return hash_password(one_time), None


# --- responses ------------------------------------------------------------------------------------------------

def _page(template: str, session: Optional[StaffSession] = None, status: int = 200, **context) -> HTTPResponse:
    return render_html(template, status=status, session=session, **context)


def _message(heading: str, message: str, status: int, session: Optional[StaffSession] = None) -> HTTPResponse:
    return _page("staff_message.html", session, status, heading=heading, message=message)


def _refused(request: Request) -> HTTPResponse:
    return _message("Staff sign-in unavailable", request.app.ctx.staff_refusal, 503)


def _no_store() -> HTTPResponse:
    return _message(
        "Callback list unavailable",
        "The callback database could not be reached. Please try again in a minute; if it keeps happening, "
        "tell whoever looks after the assistant.",
        503,
    )


def _not_found(session: StaffSession) -> HTTPResponse:
    return _message("Not found", "There is no callback request with that reference.", 404, session)


def _secure(request: Request) -> bool:
    return bool(request.app.ctx.settings.production)


def _current_session(request: Request) -> Optional[StaffSession]:
    return request.app.ctx.staff_sessions.lookup(request.cookies.get(SESSION_COOKIE))


def _refresh(request: Request, response: HTTPResponse, session: StaffSession) -> HTTPResponse:
    # Re-signing on every page makes the 8-hour limit an idle limit, not a fixed one.
    cookie = request.app.ctx.staff_sessions.cookie_value(session)
    set_cookie(response, SESSION_COOKIE, cookie, secure=_secure(request), max_age=IDLE_LIMIT_S)
    return response


def _store(request: Request):
    store = request.app.ctx.store
    if store is None:
        raise StoreUnavailable("no callback store is configured")
    return store


def signin_required(handler=None, *, csv: bool = False):
    """Only a signed-in member of staff reaches the handler, which is called as handler(request, session, ...).

    Anyone else is sent to the sign-in page; a download (csv=True) answers a plain 401 instead, so a page of
    HTML is never saved as a .csv file. Each page a member of staff sees restarts their idle time.
    """

    def decorate(handler):
        @wraps(handler)
        async def signed_in_only(request: Request, *args, **kwargs) -> HTTPResponse:
            if request.app.ctx.staff_refusal:
                return raw(b"", status=503) if csv else _refused(request)
            session = _current_session(request)
            if session is None:
                return text("Sign in first.\n", status=401) if csv else redirect("/staff/login")
            try:
                response = await handler(request, session, *args, **kwargs)
            except StoreUnavailable:
                response = _no_store()
            return _refresh(request, response, session)

        return signed_in_only

    return decorate(handler) if handler else decorate


def _status_filter(request: Request) -> tuple[str, Optional[Status]]:
    shown = request.args.get("status", "all")
    if shown not in dict(FILTERS):
        shown = "all"
    return shown, (None if shown == "all" else Status(shown))


# --- sign-in --------------------------------------------------------------------------------------------------

def _login_page(request: Request, notice: str = "", status: int = 200) -> HTTPResponse:
    token, cookie = request.app.ctx.staff_sessions.login_token()
    response = _page("staff_login.html", status=status, login_token=token, notice=notice)
    set_cookie(response, LOGIN_COOKIE, cookie, secure=_secure(request), max_age=LOGIN_WINDOW_S * 4)
    return response


@staff.get("/login")
async def staff_login_form(request: Request) -> HTTPResponse:
    if request.app.ctx.staff_refusal:
        return _refused(request)
    if _current_session(request):
        return redirect("/staff")
    return _login_page(request)


@staff.post("/login")
async def staff_login(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    if ctx.staff_refusal:
        return _refused(request)
    client = client_address(request)
    if ctx.login_throttle.blocked(client):
        return _message(
            "Too many attempts",
            "Sign-in is paused after several wrong passwords. Please wait 15 minutes and try again.",
            429,
        )
    form = request.form or {}
    if not ctx.staff_sessions.check_login_token(form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)):
        return _login_page(request, "The sign-in form had expired. Please enter your password again.", status=400)
    # Hashing is slow on purpose; in a thread it cannot hold up the chat.
    if not await asyncio.to_thread(verify_password, form.get("password") or "", ctx.staff_password_hash):
        ctx.login_throttle.failed(client)
        log.info("Staff sign-in failed")
        return _login_page(request, "That password was not right. Please try again.", status=401)
    ctx.login_throttle.succeeded(client)
    session = ctx.staff_sessions.create()
    log.info("Staff signed in")
    response = redirect("/staff", status=303)
    clear_cookie(response, LOGIN_COOKIE, secure=_secure(request))
    return _refresh(request, response, session)


@staff.get("/logout")
@signin_required
async def staff_logout_form(request: Request, session: StaffSession) -> HTTPResponse:
    return _message("Sign out", "Sign out of the callback list on this device?", 200, session)


@staff.post("/logout")
async def staff_logout(request: Request) -> HTTPResponse:
    session = _current_session(request)
    if session is not None:
        if not form_token_matches(request, session):
            response = _message("Please try again", "That form had expired. Reload the page and sign out again.",
                                403, session)
            return _refresh(request, response, session)
        request.app.ctx.staff_sessions.end(session)
        log.info("Staff signed out")
    response = redirect("/staff/login", status=303)
    clear_cookie(response, SESSION_COOKIE, secure=_secure(request))
    return response


# --- the callback list ----------------------------------------------------------------------------------------

@staff.get("")
@signin_required
async def staff_list(request: Request, session: StaffSession) -> HTTPResponse:
    shown, status = _status_filter(request)
    store = _store(request)
    records = await asyncio.to_thread(store.list, status)
    undeliverable = await asyncio.to_thread(count_undeliverable, store)
    return _page("staff_list.html", session, filters=FILTERS, shown=shown, records=records,
                 mail_warning=undeliverable_warning(undeliverable) if undeliverable else None)


@staff.get("/requests/<reference>")
@signin_required
async def staff_detail(request: Request, session: StaffSession, reference: str) -> HTTPResponse:
    record = await asyncio.to_thread(_store(request).get, reference)
    if record is None:
        return _not_found(session)
    # Shown as staff dial it, linked with the E.164 form the store keeps (tel: works from a softphone or a mobile).
    return _page("staff_detail.html", session, record=record, next_steps=NEXT_STEPS[record.status],
                 phone_shown=dial_format(record.phone), phone_href=tel_href(record.phone))


@staff.post("/requests/<reference>/status")
@signin_required
async def staff_set_status(request: Request, session: StaffSession, reference: str) -> HTTPResponse:
    if not form_token_matches(request, session):
        return _message("Please try again", "That form had expired. Go back, reload the page and try again.",
                        403, session)
    try:
        status = Status((request.form or {}).get("status", ""))
    except ValueError:
        return _message("Please try again", "That status is not one the list knows.", 400, session)
    try:
        record = await asyncio.to_thread(_store(request).set_status, reference, status)
    except UnknownReference:
        return _not_found(session)
    return redirect(f"/staff/requests/{record.reference}", status=303)


@staff.get("/export.csv")
@signin_required(csv=True)
async def staff_export(request: Request, session: StaffSession) -> HTTPResponse:
    shown, status = _status_filter(request)
    buffer = io.StringIO()
    await asyncio.to_thread(_store(request).export_csv, buffer, status)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return raw(
        buffer.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="callbacks-{shown}-{stamp}.csv"'},
    )


# --- what visitors asked: unanswered questions and answer votes -----------------------------------------------

LEARNING_PATH = "/staff/learning"
# How long the grouping button waits for its process before answering: under the app's 45-second response limit.
# A slow run goes on in the background (up to grouping.GROUPING_TIMEOUT_S) and the page says so.
GROUPING_WAIT_S = 35.0
OTHERS_SHOWN = 20
# Fixed texts chosen by a word in the address after "Group new questions now": nothing a visitor wrote.
GROUPING_NOTICES = {
    "done": "The new questions have been grouped.",
    "running": "Grouping is still running (the sentence model takes a while to load). Reload this page in a minute.",
    "failed": "The questions could not be grouped just now. Please try again later; if it keeps failing, tell "
              "whoever looks after the assistant.",
    "none": "There were no new questions to group.",
}
CHART_WIDTH = 200
CHART_HEIGHT = 60
CHART_BAR_AREA = 48  # the tallest bar; the rest of the height is for the week labels


@dataclass(frozen=True)
class WeekBars:
    monday: date
    helpful: int
    unhelpful: int
    x: int
    helpful_height: int
    unhelpful_height: int


def wordings(texts: List[str]) -> List[Tuple[str, int]]:
    """Each distinct wording with how many times it was asked, in the order first asked (the example first)."""
    return list(Counter(texts).items())


def week_bars(weeks: List[Tuple[date, int, int]]) -> List[WeekBars]:
    """Where each week's two bars go in a chart CHART_WIDTH wide: helpful on the left, unhelpful on the right,
    scaled so the answer's busiest week fills the chart (a week with votes always shows at least 2 pixels)."""
    top = max([1] + [max(helpful, unhelpful) for _, helpful, unhelpful in weeks])
    step = CHART_WIDTH // max(len(weeks), 1)

    def height(votes: int) -> int:
        return 0 if votes <= 0 else max(2, round(votes * CHART_BAR_AREA / top))

    return [WeekBars(monday, helpful, unhelpful, index * step, height(helpful), height(unhelpful))
            for index, (monday, helpful, unhelpful) in enumerate(weeks)]


def _learning_records(request: Request):
    records = request.app.ctx.learning_records
    if records is None:
        raise StoreUnavailable("no callback store is configured")
    return records


def _learning_unavailable(session: StaffSession) -> HTTPResponse:
    return _message(
        "What visitors asked is unavailable",
        "The database could not be reached, so the questions and votes cannot be shown. Please try again in a "
        "minute; if it keeps happening, tell whoever looks after the assistant.",
        503,
        session,
    )


def _grouping_task(app: Sanic) -> Optional[asyncio.Task]:
    task = app.ctx.staff_grouping
    return None if task is None or task.done() else task


def _grouping_notice(request: Request) -> Optional[str]:
    """What to say about the last press of "Group new questions now", if anything."""
    task = request.app.ctx.staff_grouping
    if task is not None and not task.done():
        return GROUPING_NOTICES["running"]
    said = request.args.get("grouped", "")
    if said == "running" and task is not None:  # it has finished since: say how it went
        said = "done" if not task.cancelled() and task.exception() is None and task.result() else "failed"
    return GROUPING_NOTICES.get(said)


@staff.get("/learning")
@signin_required
async def staff_learning(request: Request, session: StaffSession) -> HTTPResponse:
    settings = request.app.ctx.settings
    try:
        records = _learning_records(request)
        groups = await asyncio.to_thread(records.groups)
        votes = await asyncio.to_thread(records.votes)
    except StoreUnavailable:
        return _learning_unavailable(session)
    waiting = groups[-1] if groups and groups[-1].id is None else None
    grouped = groups[:-1] if waiting else groups
    return _page(
        "staff_learning.html", session, current_page="learning", collecting=bool(settings.learning),
        keep_days=settings.learning_days, groups=grouped, waiting=waiting, votes=votes,
        notice=_grouping_notice(request),
        others_shown=OTHERS_SHOWN, day=format_day_for_staff, wordings=wordings, week_bars=week_bars,
        chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT, bar_area=CHART_BAR_AREA,
    )


@staff.post("/learning/group")
@signin_required
async def staff_group_questions(request: Request, session: StaffSession) -> HTTPResponse:
    if not form_token_matches(request, session):
        return _message("Please try again", "That form had expired. Go back, reload the page and try again.",
                        403, session)
    try:
        waiting = await asyncio.to_thread(_learning_records(request).ungrouped_count)
    except StoreUnavailable:
        return _learning_unavailable(session)
    task = _grouping_task(request.app)
    if task is None:
        if not waiting:
            return redirect(f"{LEARNING_PATH}?grouped=none", status=303)
        from bot.learning.grouping import group_in_own_process

        # One run at a time, however many people press the button; it outlives this request if it is slow.
        task = request.app.ctx.staff_grouping = asyncio.get_running_loop().create_task(
            group_in_own_process(request.app.ctx.settings.database_url))
        log.info("Staff started grouping %d new question(s)", waiting)
    try:
        grouped = await asyncio.wait_for(asyncio.shield(task), GROUPING_WAIT_S)
    except asyncio.TimeoutError:
        return redirect(f"{LEARNING_PATH}?grouped=running", status=303)
    except Exception as exc:  # noqa: BLE001  (the process could not even be started: said on the page)
        log.error("Grouping could not be started (%s)", type(exc).__name__)
        grouped = False
    return redirect(f"{LEARNING_PATH}?grouped={'done' if grouped else 'failed'}", status=303)


@staff.get("/learning/export.yml")
@signin_required(csv=True)
async def staff_learning_export(request: Request, session: StaffSession) -> HTTPResponse:
    buffer = io.StringIO()
    try:
        await asyncio.to_thread(_learning_records(request).export_nlu, buffer)
    except StoreUnavailable:
        # Plain text, not a page: a browser must not save an HTML error as the .yml file.
        return text("The database could not be reached. Please try again in a minute.\n", status=503)
    # A control character in a kept question would make the file unreadable as YAML: written out instead.
    return raw(
        visible_text(buffer.getvalue(), newlines=True).encode("utf-8"),
        content_type="application/yaml; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="unanswered-questions.yml"',
            "Cache-Control": "no-store",
        },
    )


async def _stop_grouping(app: Sanic, loop) -> None:
    task = _grouping_task(app)
    if task is not None:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
