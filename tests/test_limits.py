"""The per-client limit structures of the core, with a moved clock (no sleeping)."""

from __future__ import annotations

from server.sessions.limits import KeyedBuckets, KeyedSlots, TokenBucket


def test_bucket_spends_refills_and_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=2, burst=3, now=0)
    assert [bucket.take(0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == 0.5
    assert bucket.take(0.5)
    bucket.charge(0.5, 10)  # counted afterwards: a debt
    assert not bucket.take(5.0) and bucket.retry_after() == 1.0  # 9 tokens back, 1 short of paying it off


def test_keyed_buckets_keep_clients_apart() -> None:
    buckets = KeyedBuckets(rate=1, burst=2)
    assert [buckets.take("user:a", 0) for _ in range(3)] == [0, 0, 1.0]
    assert buckets.take("user:b", 0) == 0  # another client is not affected
    # More than a burst takes a full bucket: allowed when full, then waits for a full bucket again.
    assert (buckets.take("bytes", 0, cost=5), buckets.take("bytes", 0, cost=5)) == (0, 2.0)


def test_full_buckets_are_forgotten_when_there_are_many() -> None:
    buckets = KeyedBuckets(rate=1, burst=1, prune_above=3)
    for key in "abc":
        buckets.take(key, 0)
    buckets.take("d", 10)  # a, b, c are full again by now
    assert len(buckets) == 1


def test_slots_per_key_and_in_all_and_a_member_holds_one() -> None:
    slots = KeyedSlots(limit=2, total=3)
    assert slots.acquire("ip", 1) and slots.acquire("ip", 2)
    assert not slots.acquire("ip", 3)
    assert slots.acquire("ip", 2)  # the same member again: no new slot
    assert slots.acquire("other", 4)
    assert not slots.acquire("third", 5)  # three in all
    slots.release("ip", 2)
    assert not slots.acquire("ip", 3)  # member 2 still holds its slot once
    slots.release("ip", 2)
    assert slots.acquire("ip", 3) and len(slots) == 3


def test_connection_guard_drops_past_the_burst_but_never_a_trusted_proxy() -> None:
    import ipaddress

    from server.http.accept_guard import ConnectionGuard

    now = [0.0]
    guard = ConnectionGuard(rate=1, burst=2, exempt=[ipaddress.ip_network("10.0.0.0/8")], clock=lambda: now[0])
    assert [guard.admit("203.0.113.9") for _ in range(3)] == [True, True, False]
    assert all(guard.admit("10.1.2.3") for _ in range(10))
    now[0] = 1.0
    assert guard.admit("203.0.113.9") and guard.dropped == 1
