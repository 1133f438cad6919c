"""A very small template renderer: `{{ name }}` placeholders, HTML-escaped unless the value is Markup.

Jinja2 is not part of the pinned environment; this keeps escaping on by default without adding a dependency.
Templates hold no logic: loops and conditions are built in Python with `h()` and joined into Markup.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class Markup(str):
    """Text that is already safe HTML."""


def h(value) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts) -> Markup:
    return Markup("".join(h(p) for p in parts))


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def render(_template: str, **context) -> Markup:
    source = _load(_template)

    def substitute(match: re.Match) -> str:
        key = match.group(1)
        if key not in context:
            raise KeyError(f"template {_template} needs {key!r}")
        return h(context[key])

    return Markup(_PLACEHOLDER.sub(substitute, source))
