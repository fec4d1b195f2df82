"""Liveness and the published contract itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, get

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi.yaml"


@get("/health", sync_to_thread=False)
def health() -> dict[str, Any]:
    return {"status": "ok"}


@get("/openapi.yaml", include_in_schema=False)
async def contract(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(request.app.state.contract_bytes, media_type="application/yaml")
