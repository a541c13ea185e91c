"""The connection registry: live connections per session, and those that finished here."""

from __future__ import annotations

from realtime.channel.registry import FINISHED_KEPT, ConnectionRegistry


class Stub:
    """The two calls the registry makes of a connection (never made here)."""

    async def retire(self) -> None:
        raise AssertionError("not retired in these tests")

    def claimed_elsewhere(self, connection_id: str, epoch: int) -> bool:
        return False


def test_a_newer_connection_replaces_the_live_one_and_an_old_release_leaves_it() -> None:
    registry = ConnectionRegistry()
    first, second = Stub(), Stub()
    assert registry.claim("s1", first) is None
    assert registry.claim("s1", second) is first
    assert registry.release("s1", first) is False  # the replaced one's teardown keeps the newer one
    assert registry.live("s1") is second


def test_finished_connections_are_remembered_up_to_a_bound() -> None:
    registry = ConnectionRegistry()
    assert not registry.finished_here("c0")
    for index in range(FINISHED_KEPT + 1):
        registry.finish(f"c{index}")
    assert not registry.finished_here("c0")  # the oldest is forgotten: a reconnect then waits the takeover out
    assert registry.finished_here("c1") and registry.finished_here(f"c{FINISHED_KEPT}")
