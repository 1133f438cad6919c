"""Response headers that every page gets, the origin rules for the chat endpoint and widget files, and who
the client is behind a reverse proxy."""
from __future__ import annotations

import ipaddress
from typing import Iterable, Optional
from urllib.parse import urlsplit

# No inline scripts anywhere: the widget and pages load scripts and styles from this server only.
_CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
CSP_PUBLIC = _CSP_BASE + "; frame-ancestors 'self'"
CSP_STAFF = _CSP_BASE + "; frame-ancestors 'none'"

CORS_PATHS = ("/chat", "/feedback", "/widget.js", "/widget.css")
# Production is served over HTTPS only; a year is what browsers' preload lists ask for. Never sent in
# development: a browser would then refuse http://127.0.0.1 for a year.
HSTS = "max-age=31536000"


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def same_host(origin: str, host_header: Optional[str]) -> bool:
    """An Origin naming this server's own host is the widget on our own pages; a cross-site page cannot fake it."""
    if not origin or not host_header:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host_header.strip().lower()


class OriginPolicy:
    def __init__(self, allowed: Iterable[str]):
        self.allowed = frozenset(normalise_origin(o) for o in allowed if o)

    def is_allowed(self, origin: Optional[str]) -> bool:
        return bool(origin) and normalise_origin(origin) in self.allowed

    def may_post(self, origin: Optional[str], host_header: Optional[str]) -> bool:
        # Requests without an Origin header do not come from a page in a browser (browsers always send one on
        # a cross-origin or same-origin fetch POST), so CORS has nothing to protect there.
        if not origin:
            return True
        return self.is_allowed(origin) or same_host(origin, host_header)


def apply_security_headers(path: str, headers, *, production: bool = False) -> None:
    staff = path == "/staff" or path.startswith("/staff/")
    if production:
        headers.setdefault("Strict-Transport-Security", HSTS)
    headers.setdefault("Content-Security-Policy", CSP_STAFF if staff else CSP_PUBLIC)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if staff:
        headers["Cache-Control"] = "no-store"
        headers.setdefault("X-Frame-Options", "DENY")


def apply_cors(policy: OriginPolicy, origin: Optional[str], headers, preflight: bool = False) -> bool:
    # Vary on every answer, allowed or not, so a shared cache never hands one origin's answer to another.
    vary = headers.get("Vary")
    headers["Vary"] = "Origin" if not vary else (vary if "origin" in vary.lower() else vary + ", Origin")
    if not policy.is_allowed(origin):
        return False
    headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
        headers["Access-Control-Allow-Headers"] = "Content-Type"
        headers["Access-Control-Max-Age"] = "600"
    return True


def configure_proxies(config, *, proxies_count: int, real_ip_header: Optional[str],
                      forwarded_secret: Optional[str]) -> None:
    """Which forwarded headers Sanic may believe, from our settings.

    Set every time, even to "none": Sanic would otherwise take SANIC_PROXIES_COUNT and the like from the
    environment, and a forwarded header believed by mistake lets anyone choose the address they are throttled by.
    """
    config.PROXIES_COUNT = proxies_count or None
    config.REAL_IP_HEADER = real_ip_header or None
    config.FORWARDED_SECRET = forwarded_secret or None


def client_address(request) -> str:
    """The client's address for throttling: the proxy's word only as far as configure_proxies allows.

    An IPv6 address stands for its /64: a home or a phone is given a whole /64 and can use any address in it.
    """
    address = request.remote_addr or request.ip or ""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return address[:100] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
