"""CORS for the Trigger.dev-compatible routes (browsers call them directly; nothing else is CORS)."""

from __future__ import annotations

from typing import Any

from litestar import Request

# Where the realtime and run routes live (api/controllers/realtime.py): errors raised while routing
# there (404, 405) carry the same CORS headers as the routes' own answers.
REALTIME_PREFIXES = ("/realtime/", "/api/v3/runs/", "/api/v2/runs/")
CORS_PREFLIGHT = "cors_preflight"  # opt of the only OPTIONS handler the app answers (api/app.py refuses the rest)


def cors_headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    origin = request.headers.get("origin")
    headers = {"Access-Control-Allow-Origin": origin or "*", "Access-Control-Expose-Headers": "*"}
    if origin:
        headers["Vary"] = "Origin"
    return headers


def is_realtime(path: str) -> bool:
    return path.startswith(REALTIME_PREFIXES)
