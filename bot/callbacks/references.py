"""Callback references such as RG-K7M4QX: easy to read aloud over the phone and to type back.

The alphabet leaves out characters that are mistaken for one another when spoken or handwritten
(0/O, 1/I/L, 5/S, 2/Z, 8/B), so a reference copied from a text message or a call note still matches.
"""
from __future__ import annotations

import re
import secrets

__all__ = ["ALPHABET", "PREFIX", "LENGTH", "ReferenceFormatError", "new_reference", "normalise_reference"]

ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
PREFIX = "RG-"
LENGTH = 6

_SEPARATORS = re.compile(r"[\s\-_.]+")


class ReferenceFormatError(ValueError):
    """The text is not shaped like one of our references."""


def new_reference() -> str:
    # `secrets` so references cannot be predicted from one another; they are not secrets in
    # themselves, but guessable ones would make enumeration of the staff tools easier.
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise_reference(text: str) -> str:
    """Canonical "RG-XXXXXX" from what someone typed: any case, spaces or dashes, "RG" optional."""
    if not isinstance(text, str):
        raise ReferenceFormatError("a reference must be text")
    compact = _SEPARATORS.sub("", text).upper()
    # Length decides whether "RG" is the prefix, since R and G are also in the alphabet.
    if len(compact) == LENGTH + 2 and compact.startswith("RG"):
        compact = compact[2:]
    if len(compact) != LENGTH:
        raise ReferenceFormatError(f"a reference has {LENGTH} characters after RG-")
    if any(ch not in ALPHABET for ch in compact):
        raise ReferenceFormatError("a reference uses only unambiguous letters and digits")
    return PREFIX + compact


def is_reference(text: str) -> bool:
    try:
        normalise_reference(text)
    except ReferenceFormatError:
        return False
    return True
