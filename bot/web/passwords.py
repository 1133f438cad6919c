"""Staff password hashing with Argon2id (argon2-cffi).

The stored form is argon2's own encoding ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"), which names its cost,
so the cost can be raised later without breaking hashes already in RG_STAFF_PASSWORD_HASH.

`python -m bot.web.passwords` asks for a password twice and prints the value to put in RG_STAFF_PASSWORD_HASH.
"""
from __future__ import annotations

import getpass
import sys

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import Argon2Error, VerifyMismatchError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Readable hashes, unreadable ones (a value from before Argon2, or one a shell mangled by expanding its '$'
# parts) and non-ASCII text raise these; none of them may reach a staff member as an error page.
_UNREADABLE = (Argon2Error, ValueError, TypeError)


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("The password must not be empty")
    return _hasher.hash(password)


def is_valid_hash(stored: str | None) -> bool:
    if not stored:
        return False
    try:
        extract_parameters(stored)
        # The parameters can parse while the salt or digest cannot be decoded; only argon2 itself can tell.
        _hasher.verify(stored, "")
    except VerifyMismatchError:
        return True
    except _UNREADABLE:
        return False
    return True


def verify_password(password: str, stored: str) -> bool:
    try:
        return _hasher.verify(stored, password or "")
    except _UNREADABLE:
        return False


def main() -> int:
    try:
        first = getpass.getpass("New staff password: ")
        second = getpass.getpass("Type it again: ")
    except (EOFError, KeyboardInterrupt):
        print("\nNo password was set.", file=sys.stderr)
        return 1
    if first != second:
        print("The two passwords were different. Nothing was changed; please try again.", file=sys.stderr)
        return 1
    if len(first) < MIN_LENGTH:
        print(f"Please use at least {MIN_LENGTH} characters (a few unrelated words work well).", file=sys.stderr)
        return 1
    print(hash_password(first))
    print("Set this as RG_STAFF_PASSWORD_HASH (in single quotes in a shell: it contains '$').", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
