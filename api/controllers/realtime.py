"""Trigger.dev's realtime and run routes at the service root, for frontends built on its SDK.

Not part of ``contracts/openapi.yaml``: they follow Trigger.dev's wire protocol (docs/realtime.md).
Every response, errors included, carries ``Access-Control-Allow-Origin`` and
``Access-Control-Expose-Headers: *`` (without the exposed ``electric-*`` headers a browser SDK
hangs silently), and every path answers the CORS preflight.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, Router, get, post, route
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.response import Stream

from api.cors import CORS_PREFLIGHT, cors_headers
from api.deps import Services
from api.errors import NOT_MIGRATED_MESSAGE
from api.guards import client_address, public
from core.errors import RealtimeError
from services.realtime import params
from services.realtime.access import Caller
from store.migrate import is_missing_schema

log = logging.getLogger("campaign_chat.realtime")

RUN_PATH = "/realtime/v1/runs/{run_id:str}"
STREAM_PATH = "/realtime/v1/streams/{run_id:str}/{key:str}"
RETRIEVE_PATH = "/api/v3/runs/{run_id:str}"
CANCEL_PATH = "/api/v2/runs/{run_id:str}/cancel"


def _json(request: Request[Any, Any, Any], body: Any, status: int = 200, extra: dict[str, str] | None = None) -> Response[Any]:
    headers = {**cors_headers(request), "Cache-Control": "no-store", **(extra or {})}
    return Response(content=body, status_code=status, headers=headers, media_type="application/json")


# These routes check a public access token (or the owner's API key) themselves, as Trigger.dev does.
TOKEN_AUTH = public("Trigger.dev realtime route: authorised by the run's public access token")


async def _caller(request: Request[Any, Any, Any], container: Services) -> Caller:
    return await container.access.caller(request.headers.get("authorization"), client_address(request))


async def _disconnected(request: Request[Any, Any, Any]) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


@get(RUN_PATH, opt=TOKEN_AUTH)
async def subscribe_run(request: Request[Any, Any, Any], container: Services) -> Response[Any]:
    run_id, q = params.run_id(request.path_params["run_id"]), request.query_params
    shape = params.shape_params(q.get("offset"), q.get("handle"), q.get("live"), q.get("cursor"), q.get("expired_handle"))
    skip = frozenset(c.strip() for c in (q.get("skipColumns") or "").split(",") if c.strip())
    work = asyncio.ensure_future(container.feed.shape(await _caller(request, container), run_id, shape, skip=skip))
    # A long-poll whose client went away must not hold a connection (or a graceful shutdown) for 20 s.
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait([work, gone], return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not work.done():
            work.cancel()
    if not work.done() or work.cancelled():
        return Response(content=b"", status_code=499)
    reply = work.result()
    return _json(request, reply.messages, reply.status, reply.headers)


@get(STREAM_PATH, opt=TOKEN_AUTH)
async def stream_run(request: Request[Any, Any, Any], container: Services) -> Stream:
    run_id, key = params.run_id(request.path_params["run_id"]), params.stream_key(request.path_params["key"])
    after = params.last_event_seq(request.headers.get("last-event-id"))
    body = await container.feed.open_stream(await _caller(request, container), run_id, key, after)
    # Trigger.dev sends no-cache here; no-store says the same to an SSE client and also keeps the
    # events out of any cache on the way.
    headers = {**cors_headers(request), "Cache-Control": "no-store", "Connection": "keep-alive",
               "X-Accel-Buffering": "no"}
    return Stream(body, media_type="text/event-stream", headers=headers)


@get(RETRIEVE_PATH, opt=TOKEN_AUTH)
async def retrieve_run(request: Request[Any, Any, Any], container: Services) -> Response[Any]:
    run_id = params.run_id(request.path_params["run_id"])
    return _json(request, await container.control.retrieve(await _caller(request, container), run_id))


@post(CANCEL_PATH, status_code=200, opt=TOKEN_AUTH)
async def cancel_run(request: Request[Any, Any, Any], container: Services) -> Response[Any]:
    run_id = params.run_id(request.path_params["run_id"])
    return _json(request, await container.control.cancel(await _caller(request, container), run_id))


@route([RUN_PATH, STREAM_PATH, RETRIEVE_PATH, CANCEL_PATH], http_method=HttpMethod.OPTIONS, status_code=200,
       opt={**public("CORS preflight"), CORS_PREFLIGHT: True})
async def preflight(request: Request[Any, Any, Any]) -> Response[Any]:
    headers = {
        **cors_headers(request),
        "Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
        "Access-Control-Max-Age": "300",
    }
    asked = request.headers.get("access-control-request-headers")
    if asked:
        # Echo, not "*": a wildcard does not cover Authorization.
        headers["Access-Control-Allow-Headers"] = asked
        headers["Vary"] = ", ".join(filter(None, [headers.get("Vary"), "Access-Control-Request-Headers"]))
    return Response(content={}, status_code=200, headers=headers, media_type="application/json")


def _realtime_error(request: Request[Any, Any, Any], exc: RealtimeError) -> Response[Any]:
    return _json(request, exc.body, exc.status, exc.headers)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _json(request, {"error": str(exc.detail)}, exc.status_code, dict(exc.headers or {}))


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_missing_schema(exc):
        log.error("the database is not migrated for this release: run `campaign-chat migrate`")
        return _json(request, {"error": NOT_MIGRATED_MESSAGE, "code": "not_migrated"}, 503)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _json(request, {"error": "Something went wrong"}, 500)


realtime_router = Router(
    path="/",
    route_handlers=[preflight, subscribe_run, stream_run, retrieve_run, cancel_run],  # preflight first: it replaces the default OPTIONS
    exception_handlers={RealtimeError: _realtime_error, HTTPException: _http_error, Exception: _internal_error},
)
