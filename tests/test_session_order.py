"""SessionOrder: a live connection gets a session's seqs in ascending order, whoever wrote them."""

from __future__ import annotations

from datetime import UTC, datetime

from server.sessions.ordering import PENDING_WAIT_SECONDS, SessionOrder
from storage import EventDoc, EventSource, SeqRange


def event(seq: int) -> EventDoc:
    return EventDoc(
        session_id="s", seq=seq, type="media.state", ts=datetime.now(UTC), payload={}, source=EventSource.SERVER
    )


def seqs(events: list[EventDoc]) -> list[int]:
    return [e.seq for e in events]


def test_own_events_are_delivered_in_seq_order_once() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(3, 10))
    assert order.take(3) == [3, 4, 5]
    assert seqs(order.deliver([event(5), event(3), event(4)], now=0)) == [3, 4, 5]
    assert order.deliver([event(4)], now=0) == []  # the change feed's copy of an own event
    assert order.available() == 5


def test_a_pending_seq_below_holds_later_events_until_it_arrives() -> None:
    order = SessionOrder()
    order.expect([SeqRange(7, 7)], now=0)  # another writer reserved 7 before our block
    order.add_block(SeqRange(8, 20))
    order.take(2)
    assert order.deliver([event(8), event(9)], now=0) == []
    assert order.foreign(event(7))
    assert seqs(order.deliver([event(7)], now=0.1)) == [7, 8, 9]


def test_a_pending_seq_that_never_arrives_stops_holding_after_the_wait() -> None:
    order = SessionOrder()
    order.expect([SeqRange(4, 5)], now=0)
    assert order.deliver([event(6)], now=0) == []
    assert order.next_deadline() == PENDING_WAIT_SECONDS
    assert order.expire(now=PENDING_WAIT_SECONDS / 2) == []
    assert seqs(order.expire(now=PENDING_WAIT_SECONDS)) == [6]
    assert order.next_deadline() is None


def test_a_foreign_seq_above_the_block_retires_the_block() -> None:
    """Our remaining seqs are lower than the foreign one: used later, a resuming client would skip them."""
    order = SessionOrder()
    order.add_block(SeqRange(1, 64))
    order.take(2)
    assert order.foreign(event(65))
    assert order.available() == 0
    order.add_block(SeqRange(66, 129))
    order.take(1)
    assert seqs(order.deliver([event(1), event(2), event(65), event(66)], now=0)) == [1, 2, 65, 66]


def test_a_block_reserved_before_a_delivered_foreign_seq_is_not_used() -> None:
    order = SessionOrder()
    assert order.foreign(event(30))
    order.add_block(SeqRange(1, 20))  # a reservation that was on its way
    order.add_block(SeqRange(25, 40))
    assert order.take(2) == [31, 32]


def test_blocks_are_used_lowest_first_across_a_prefetched_one() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(1, 2))
    order.add_block(SeqRange(10, 12))
    assert order.available() == 5
    assert order.take(4) == [1, 2, 10, 11]


def test_a_foreign_seq_below_the_unused_block_keeps_it() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(10, 20))
    assert order.foreign(event(9))
    assert order.available() == 11


def test_own_and_already_delivered_seqs_are_not_news() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(1, 8))
    order.take(1)
    order.deliver([event(1)], now=0)
    assert not order.foreign(event(1))
    assert not order.foreign(event(5))  # ours, not yet delivered: the writer delivers it
    assert order.foreign(event(9))


def test_pending_ranges_already_delivered_are_ignored() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(1, 5))
    order.take(5)
    order.deliver([event(i) for i in range(1, 6)], now=0)
    order.expect([SeqRange(2, 3)], now=0)
    assert order.next_deadline() is None


def test_the_seqs_between_our_blocks_that_we_never_saw_are_named() -> None:
    order = SessionOrder()
    assert order.unaccounted(SeqRange(1, 4)) is None  # a claim's block: the replay reads the store
    order.add_block(SeqRange(1, 4))
    assert order.unaccounted(SeqRange(5, 8)) is None  # right after ours: nobody else had a seq
    assert order.unaccounted(SeqRange(9, 12)) == SeqRange(5, 8)  # handed to someone else
    assert order.foreign(event(6))
    assert order.unaccounted(SeqRange(9, 12)) == SeqRange(7, 8)  # 6 was seen


def test_a_block_granted_late_never_hands_out_seqs_below_what_went_out() -> None:
    order = SessionOrder()
    order.add_block(SeqRange(1, 4))
    order.add_block(SeqRange(9, 12))  # reserved in line while an earlier reservation was still out
    order.take(4)
    assert order.take(1) == [9]
    order.stored = 9
    assert seqs(order.deliver([event(9)], now=0)) == [9]
    order.add_block(SeqRange(5, 8))  # the earlier one, granted only now
    assert order.take(1) == [10]  # not 5: the connection has seq 9 already
