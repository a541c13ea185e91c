"""The Starlette application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

from pymongo.errors import ConnectionFailure, PyMongoError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.config import Settings
from server.context import AppContext
from server.demo import seed_demo
from server.errors import AppError, ErrorCode, storage_unavailable
from server.openapi import Operation, build_openapi
from server.routes import (
    analytics,
    applications,
    health,
    offline_pack,
    pages,
    recording,
    session_actions,
    session_events,
    sessions,
    start_session,
)
from storage import ensure_indexes, load_packaged_bank

logger = logging.getLogger(__name__)

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 401: ErrorCode.UNAUTHORIZED}


def _app_version() -> str:
    try:
        return version("interview-server")
    except PackageNotFoundError:
        return "0.0.0"


def _error_response(error: AppError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _on_app_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return _error_response(exc)


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return _error_response(AppError(exc.status_code, code, message, headers=dict(exc.headers or {})))


async def _on_storage_error(_request: Request, exc: Exception) -> Response:
    logger.warning("storage unavailable: %s", type(exc).__name__)
    return _error_response(storage_unavailable())


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error", exc_info=exc)
    return _error_response(AppError(500, ErrorCode.INTERNAL_ERROR, "Internal server error"))


async def prepare_storage(ctx: AppContext) -> None:
    """Indexes, the question bank and (optionally) the demo data; all idempotent."""
    await ensure_indexes(ctx.database)
    await ctx.questions.load_bank(await load_packaged_bank())
    if ctx.settings.seed_demo:
        await seed_demo(ctx.applications)
    ctx.storage_ready = True


async def _prepare_until_ready(ctx: AppContext) -> None:
    delay = 0.5
    while True:
        try:
            await prepare_storage(ctx)
            logger.info("storage ready")
            return
        except PyMongoError as error:
            logger.warning("storage not ready (%s); retrying in %.1fs", type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _sweep_abandoned(ctx: AppContext) -> None:
    while True:
        await asyncio.sleep(ctx.settings.abandon_sweep_seconds)
        try:
            count = await ctx.service.abandon_stale()
            if count:
                logger.info("abandoned %d inactive sessions", count)
        except PyMongoError as error:
            logger.warning("abandon sweep failed: %s", type(error).__name__)


def collect_routes() -> tuple[list[BaseRoute], list[Operation]]:
    # Imported here: realtime/ builds on server/, whose package __init__ imports this module.
    from realtime.channel import endpoint as ws_endpoint

    modules = [health, applications, start_session]
    modules += [offline_pack, pages]
    modules += [sessions, session_actions, session_events, analytics]
    modules += [recording]
    modules += [ws_endpoint]
    routes: list[BaseRoute] = []
    operations: list[Operation] = []
    for module in modules:
        routes.extend(module.ROUTES)
        operations.extend(module.OPERATIONS)
    return routes, operations


def create_app(settings: Settings) -> Starlette:
    """Build the app for `settings` (MONGODB_URL and secrets already resolved)."""
    from realtime.channel import Channel
    from realtime.webrtc import MediaRuntime, webrtc_hook_factory

    ctx = AppContext.build(settings)
    channel = Channel(ctx)
    media = MediaRuntime.from_settings(settings)
    channel.add_hook(webrtc_hook_factory(media))
    routes, operations = collect_routes()
    openapi_document = build_openapi(operations, _app_version())

    async def openapi_json(_request: Request) -> JSONResponse:
        return JSONResponse(openapi_document)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks: set[asyncio.Task[None]] = set()
        try:
            try:
                await prepare_storage(ctx)
            except PyMongoError as error:
                logger.warning("storage not reachable at start-up (%s); will keep trying", type(error).__name__)
                tasks.add(asyncio.create_task(_prepare_until_ready(ctx), name="prepare-storage"))
            tasks.add(asyncio.create_task(_sweep_abandoned(ctx), name="abandon-sweeper"))
            media.start()
            yield
        finally:
            channel.close_all()
            await media.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.database.close()

    app = Starlette(
        routes=[*routes, Route("/openapi.json", openapi_json, methods=["GET"])],
        exception_handlers={
            AppError: _on_app_error,
            HTTPException: _on_http_error,
            ConnectionFailure: _on_storage_error,
            Exception: _on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.context = ctx
    app.state.channel = channel
    app.state.media = media
    app.state.operations = operations
    return app
