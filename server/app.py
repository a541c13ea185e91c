"""The composition root: `create_app(settings)` builds the object graph and wires the edges to the core."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.assembly import Assembly
from server.config import Settings
from server.demo import demo_application
from server.http import (
    STATE_KEY,
    build_openapi,
    http_middleware,
    http_routes,
    on_domain_error,
    on_router_error,
    on_storage_error,
    on_unexpected,
)
from server.sessions import SYSTEM_CLOCK, Clock, DomainError, StorageError
from storage import EmbeddedMongo, ensure_indexes, load_packaged_bank

logger = logging.getLogger(__name__)


def _app_version() -> str:
    try:
        return version("interview-server")
    except PackageNotFoundError:
        return "0.0.0"


async def prepare_storage(parts: Assembly) -> None:
    """Indexes, the question bank and (optionally) the demo data; all idempotent."""
    await ensure_indexes(parts.database)
    await parts.service.load_question_bank(parts.bank or await load_packaged_bank())
    if parts.settings.seed_demo:
        await parts.service.ensure_application(demo_application(parts.service.clock.now()))


async def _prepare_until_ready(parts: Assembly) -> None:
    delay = 0.5
    while True:
        try:
            await prepare_storage(parts)
            logger.info("storage ready")
            return
        except StorageError as error:
            logger.warning("storage not ready (%s); retrying in %.1fs", type(error).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


ORPHAN_SWEEP_SECONDS = 3600


async def _housekeeping_pass(parts: Assembly, sweep_orphans: bool) -> None:
    service = parts.service
    if count := await service.abandon_stale():
        logger.info("abandoned %d inactive sessions", count)
    if count := await service.deletion.finish_pending():
        logger.info("finished %d interrupted session deletions", count)
    if count := await service.deletion.expire():
        logger.info("deleted %d sessions past the retention of %s days", count, parts.settings.retention_days)
    if sweep_orphans and (count := await service.recordings.remove_orphan_chunks()):
        logger.info("removed the chunks of %d recording files a crash cut off", count)


async def _housekeeping(parts: Assembly) -> None:
    """Every ABANDON_SWEEP_SECONDS: abandon idle sessions, finish interrupted deletions, apply the retention.

    Interrupted deletions are finished at start-up too, and orphan recording chunks are looked for hourly.
    """
    loop = asyncio.get_running_loop()
    next_orphan_sweep = loop.time()
    try:
        await parts.service.deletion.finish_pending()
    except StorageError as error:
        logger.warning("finishing interrupted deletions failed: %s", type(error).__name__)
    while True:
        await asyncio.sleep(parts.settings.abandon_sweep_seconds)
        sweep_orphans = loop.time() >= next_orphan_sweep
        try:
            await _housekeeping_pass(parts, sweep_orphans)
            if sweep_orphans:
                next_orphan_sweep = loop.time() + ORPHAN_SWEEP_SECONDS
        except StorageError as error:
            logger.warning("housekeeping failed: %s", type(error).__name__)


class InterviewApp(Starlette):
    """Starlette, except that WebSockets on the `direct` paths skip the middleware and the router.

    The routes stay in the router too (for the OpenAPI document and any other path).
    """

    def __init__(self, direct: Mapping[str, ASGIApp], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._direct = dict(direct)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and (direct := self._direct.get(scope["path"])) is not None:
            scope["app"] = self
            await direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, clock: Clock = SYSTEM_CLOCK, store: EmbeddedMongo | None = None) -> Starlette:
    """Build the app for `settings` (MONGODB_URL and secrets already resolved).

    With `store`, the app owns the embedded store: its lifespan stops it last, so the
    process (uvicorn re-raises the stop signal once the lifespan is over) never exits first.
    """
    parts = Assembly.build(settings, clock)
    routes = [*http_routes(), *parts.channel.routes()]
    openapi_document = build_openapi(routes, _app_version())

    async def openapi_json(_request: Request) -> JSONResponse:
        return JSONResponse(openapi_document)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[Mapping[str, Any]]:
        tasks: set[asyncio.Task[None]] = set()
        try:
            try:
                await prepare_storage(parts)
            except StorageError as error:
                logger.warning("storage not reachable at start-up (%s); will keep trying", type(error).__name__)
                tasks.add(asyncio.create_task(_prepare_until_ready(parts), name="prepare-storage"))
            tasks.add(asyncio.create_task(_housekeeping(parts), name="housekeeping"))
            tasks.add(asyncio.create_task(parts.change_feed().run(), name="change-feed"))
            tasks.add(asyncio.create_task(parts.service.scoring.sweep_forever(), name="score-sweeper"))
            parts.bank = parts.bank or await load_packaged_bank()
            parts.media.start([(q.id, q.text) for q in parts.bank])
            yield {STATE_KEY: parts.http}
        finally:
            parts.channel.close_all()
            await parts.media.close()
            await parts.service.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await parts.service.scoring.close()
            await parts.database.close()
            if store is not None:
                await asyncio.to_thread(store.stop)

    app = InterviewApp(
        parts.channel.direct_apps(),
        routes=[*routes, Route("/openapi.json", openapi_json, methods=["GET"])],
        middleware=http_middleware(settings, parts.http),
        exception_handlers={
            DomainError: on_domain_error,
            HTTPException: on_router_error,
            StorageError: on_storage_error,
            Exception: on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.dispose = parts.database.close  # for tools that build an app without serving it
    return app
