"""Helpers for the session API tests: a started session, client events, paging the event log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import (
    auth,
    create_application,
    start_session,
    unique,
    user_token,
)

RECRUITER = auth(user_token("recruiter_1", "recruiter"))
ADMIN = auth(user_token("admin_1", "admin"))


@dataclass
class Started:
    """A session started through the API, with the headers of its candidate and its own token."""

    application: dict[str, Any]
    session_id: str
    token: str
    question: dict[str, Any] | None

    @property
    def candidate(self) -> dict[str, str]:
        return auth(user_token(self.application["candidateId"]))

    @property
    def bearer(self) -> dict[str, str]:
        return auth(self.token)

    def url(self, suffix: str = "") -> str:
        return f"/api/interview/sessions/{self.session_id}{suffix}"


async def new_session(client: httpx.AsyncClient, candidate_id: str | None = None, **interview: Any) -> Started:
    application = await create_application(client, candidate_id or unique("cand"), **interview)
    response = await start_session(client, application)
    assert response.status_code == 201, response.text
    body = response.json()
    return Started(application, body["sessionId"], body["token"], body["currentQuestion"])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_iso(offset_seconds: float = 0.0) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=offset_seconds))


def client_event(type_: str, payload: dict[str, Any], ts: str | None = None, id_: str | None = None) -> dict[str, Any]:
    return {"id": id_ or str(uuid.uuid4()), "type": type_, "ts": ts or now_iso(), "payload": payload}


def named_event(name: str, ts: str | None = None, **payload: Any) -> dict[str, Any]:
    return client_event("event", {"name": name, "payload": payload}, ts)


def transcript_event(text: str, ts: str | None = None, **extra: Any) -> dict[str, Any]:
    return client_event("transcript", {"text": text, "startMs": 0, "endMs": 1000, **extra}, ts)


async def all_events(client: httpx.AsyncClient, started: Started, page: int = 100) -> list[dict[str, Any]]:
    """The whole event log through the paged API."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await client.get(
            started.url("/events"), params={"afterSeq": after, "limit": page}, headers=started.candidate
        )
        assert response.status_code == 200, response.text
        body = response.json()
        events.extend(body["events"])
        after = body["nextAfterSeq"]
        if not body["hasMore"]:
            return events
