"""Security headers on every response; no caching of anything that carries secrets or locations."""

import base64
import hashlib
import re

from flask import request

INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
# Requests whose answers may hold tokens, device secrets or exact locations.
PRIVATE_HEADERS = ("Authorization", "Follow-Up-Token", "Device-Secret")


def _docs_policy(body: bytes) -> str:
    # Swagger UI's page starts itself with an inline script: allow exactly that script.
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(body)
    )
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self' {hashes}; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def secure(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.path.rstrip("/") == "/docs" and response.mimetype == "text/html":
        headers["Content-Security-Policy"] = _docs_policy(response.get_data())
    elif "Content-Security-Policy" not in headers and response.mimetype != "text/html":
        headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    private = (
        request.path.startswith("/v1/admin")
        or request.method not in ("GET", "HEAD", "OPTIONS")
        or any(name in request.headers for name in PRIVATE_HEADERS)
        or request.path.startswith("/v1/devices")
    )
    # A view that chose its caching (aggregates: private for researchers) knows better.
    if private and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
        headers.setdefault("Pragma", "no-cache")
    return response


def init_app(app) -> None:
    app.after_request(secure)
