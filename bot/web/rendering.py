"""The Jinja2 environment for the public pages, the staff pages and the widget script.

HTML templates are escaped automatically; widget.js (in static/) is rendered once at start-up so the texts it
shows without the server (the "can't connect" message, the default Quick exit address) come from Python.
"""
from __future__ import annotations

import html
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from sanic.response import HTTPResponse
from sanic.response import html as html_response

from bot.callbacks.staff_time import format_for_staff
from bot.settings import CONTACT_EMAIL

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def shown_as_code(markup: str) -> Markup:
    # For markup a reader copies, like the embed snippet. The standard library's escaping keeps the snippet
    # written as it always was (&quot; where markupsafe would write &#34;).
    return Markup(html.escape(str(markup), quote=True))


templates = Environment(
    loader=FileSystemLoader([TEMPLATE_DIR, STATIC_DIR]),
    autoescape=select_autoescape(["html"]),
    # A value the template expects but was not given is a mistake to see at once, not an empty space on a page.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["contact_email"] = CONTACT_EMAIL
templates.filters["staff_time"] = format_for_staff
templates.filters["shown_as_code"] = shown_as_code


def render(template_name: str, **context) -> str:
    return templates.get_template(template_name).render(**context)


def render_html(template_name: str, status: int = 200, **context) -> HTTPResponse:
    return html_response(render(template_name, **context), status=status)
