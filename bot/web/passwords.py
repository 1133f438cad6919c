"""Staff password hashing with scrypt from the standard library.

The stored form is self-describing ("scrypt$N$r$p$salt$hash", base64 parts) so the cost can be raised later
without breaking hashes already in RG_STAFF_PASSWORD_HASH.

`python -m bot.web.passwords` asks for a password twice and prints the value to put in RG_STAFF_PASSWORD_HASH.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import sys

# 16 MiB of memory per check: slow enough to make guessing a stolen hash expensive, quick enough (~50 ms) for sign-in.
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH = 10


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("The password must not be empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=_KEY_BYTES)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def _parse(stored: str):
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt password hash")
    n, r, p = (int(x) for x in parts[1:4])
    if n < 2 or n & (n - 1) or not (1 <= r <= 64) or not (1 <= p <= 16) or n * r > 2**24:
        raise ValueError("scrypt parameters out of range")
    salt, key = _unb64(parts[4]), _unb64(parts[5])
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("salt or hash too short")
    return n, r, p, salt, key


def is_valid_hash(stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _parse(stored)
    except (ValueError, TypeError):
        return False
    return True


def verify_password(password: str, stored: str) -> bool:
    try:
        n, r, p, salt, key = _parse(stored)
    except (ValueError, TypeError):
        return False
    candidate = hashlib.scrypt(
        (password or "").encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(key)
    )
    return hmac.compare_digest(candidate, key)


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
