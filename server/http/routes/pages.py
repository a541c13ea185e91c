"""The candidate page (GET /interview/{applicationId}), the reviewer page (GET /review) and the client's files."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from server.http.routes.applications import valid_id
from server.http.routing import ApiRoute, Operation
from server.sessions import DomainError, ErrorCode, invalid_application

# Flat directory, lower-case names, known extensions: nothing else is ever served,
# so "..", encoded slashes, dotfiles and the package's .py files are all refused.
_ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|html|svg|png)$")
_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_MAX_ASSET_BYTES = 2 * 1024 * 1024
_PAGE = "candidate.html"
_REVIEW_PAGE = "review.html"
SERVICE_WORKER = "service-worker.js"

# The page loads only its own scripts and styles and talks only to its own origin
# ('self' covers same-origin ws:/wss: in CSP level 3).
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# The page, wherever it is served from (/interview/{id} or /client/candidate.html).
_PAGE_HEADERS = {
    "Content-Security-Policy": _PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "microphone=(self), camera=(self), geolocation=()",
}
# The reviewer page plays recordings and draws plots; it records nothing.
_REVIEW_HEADERS = {
    **_PAGE_HEADERS,
    "Permissions-Policy": "microphone=(), camera=(), geolocation=()",
}


@dataclass(frozen=True)
class Asset:
    """One client file, read once and kept while its size and mtime are unchanged."""

    body: bytes
    content_type: str
    etag: str
    stamp: tuple[int, int]


class ClientAssets:
    """Reads files of the `client` package off the event loop, cached by (mtime, size)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[str, Asset] = {}
        self._lock = threading.Lock()

    async def get(self, name: str) -> Asset | None:
        if not _ASSET_NAME.fullmatch(name):
            return None
        return await asyncio.to_thread(self._load, name)

    def _load(self, name: str) -> Asset | None:
        path = self._root / name
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file() or stat.st_size > _MAX_ASSET_BYTES:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached
        body = path.read_bytes()
        asset = Asset(
            body=body,
            content_type=_CONTENT_TYPES[path.suffix],
            etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            stamp=stamp,
        )
        with self._lock:
            self._cache[name] = asset
        return asset


_assets = ClientAssets(Path(str(resources.files("client"))))


def _not_modified(request: Request, asset: Asset) -> bool:
    header = request.headers.get("if-none-match", "")
    return asset.etag in {tag.strip() for tag in header.split(",")} or header.strip() == "*"


def _asset_response(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    # no-cache = always revalidate: a deploy reaches candidates at once, and the
    # ETag keeps revalidation to a 304. The service worker keeps offline copies.
    all_headers = {**_COMMON_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag, **headers}
    if _not_modified(request, asset):
        return Response(status_code=304, headers=all_headers)
    body = b"" if request.method == "HEAD" else asset.body
    response = Response(body, media_type=asset.content_type, headers=all_headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(asset.body))
    return response


async def client_file(request: Request) -> Response:
    name = request.path_params["path"]
    asset = await _assets.get(name)
    if asset is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found")
    headers: dict[str, str] = dict(_PAGE_HEADERS) if name == _PAGE else {}
    if name == _REVIEW_PAGE:
        headers = dict(_REVIEW_HEADERS)
    if name == SERVICE_WORKER:
        # The worker lives under /client/ but must control the pages under /interview/.
        headers["Service-Worker-Allowed"] = "/interview/"
    return _asset_response(request, asset, headers)


async def candidate_page(request: Request) -> Response:
    if not valid_id(request.path_params["applicationId"]):
        raise invalid_application()
    asset = await _assets.get(_PAGE)
    if asset is None:
        raise DomainError(ErrorCode.INTERNAL_ERROR, "The candidate page is missing from this install")
    return _asset_response(request, asset, _PAGE_HEADERS)


async def review_page(request: Request) -> Response:
    asset = await _assets.get(_REVIEW_PAGE)
    if asset is None:
        raise DomainError(ErrorCode.INTERNAL_ERROR, "The review page is missing from this install")
    return _asset_response(request, asset, _REVIEW_HEADERS)


ROUTES = [
    ApiRoute(
        "/client/{path}",
        client_file,
        Operation(
            "The browser client's ES modules, styles and service worker",
            {200: None},
            errors=(404,),
            auth=False,
            tags=("pages",),
        ),
        methods=("GET", "HEAD"),
    ),
    ApiRoute(
        "/interview/{applicationId}",
        candidate_page,
        Operation(
            "The candidate's interview page (HTML; the user token travels in the URL fragment)",
            {200: None},
            errors=(404,),
            auth=False,
            tags=("pages",),
        ),
        methods=("GET", "HEAD"),
    ),
    ApiRoute(
        "/review",
        review_page,
        Operation(
            "The reviewer page (HTML; a recruiter's or admin's user token travels in the URL fragment or is pasted)",
            {200: None},
            auth=False,
            tags=("pages",),
        ),
        methods=("GET", "HEAD"),
    ),
]
