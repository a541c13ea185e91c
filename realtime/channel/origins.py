"""Which browser origins may open the interview socket."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_allowed(
    origin: str | None, host: str | None, allowed_origins: tuple[str, ...], public_url: str | None
) -> bool:
    """Browsers always send Origin: it must be ours or listed. Non-browser clients send none."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    allowed = {o.strip().rstrip("/").lower() for o in allowed_origins}
    if public_url:
        public = urlsplit(public_url)
        allowed.add(f"{public.scheme}://{public.netloc}".lower())
    if origin in allowed:
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and bool(host) and parsed.netloc == (host or "").lower()
