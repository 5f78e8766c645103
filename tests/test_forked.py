"""pipeline/forked.py: part of a job in a forked child, its result or FAILED, never a hang."""

from __future__ import annotations

import os
import time

import pytest

from pipeline import forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this system")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_childs_return_value_comes_back_whole():
    big = bytes(range(256)) * 40_000  # 10 MB: many times a pipe's buffer
    part = forked.ForkedPart(lambda send: {"pid": os.getpid(), "data": big, "rows": [(1, 2.5, "x", None)]})
    got = part.result(timeout=30)
    assert got["data"] == big and got["rows"] == [(1, 2.5, "x", None)]
    assert got["pid"] != os.getpid()  # done in another process


def test_what_the_child_changes_stays_in_the_child():
    seen = []
    part = forked.ForkedPart(lambda send: seen.append(1) or len(seen))
    assert part.result(timeout=30) == 1 and seen == []


@pytest.mark.parametrize("work", [
    lambda send: 1 / 0,  # an exception
    lambda send: os._exit(3),  # the child ends without a result
    lambda send: (lambda: None),  # a result that does not pickle
], ids=["raises", "exits", "unpicklable"])
def test_a_child_that_gives_nothing_usable_is_failed(work):
    assert forked.ForkedPart(work).result(timeout=30) is forked.FAILED


def test_a_child_that_does_not_answer_is_stopped_at_the_deadline():
    part = forked.ForkedPart(lambda send: time.sleep(60))
    started = time.monotonic()
    assert part.result(timeout=0.5) is forked.FAILED
    assert time.monotonic() - started < 5
    assert _gone(part._pid)  # stopped and reaped


def test_a_result_is_taken_once_and_an_abandoned_child_is_stopped():
    part = forked.ForkedPart(lambda send: 7)
    assert part.result(timeout=30) == 7
    with pytest.raises(RuntimeError):
        part.result(timeout=30)
    waiting = forked.ForkedPart(lambda send: time.sleep(60))
    waiting.abandon()
    assert _gone(waiting._pid)


def _send_then(then):
    def work(send):
        send({"countries": ["GEO", "ARM"]})
        send(bytes(3_000_000))  # more than the pipe holds: the child waits for the parent to read
        return then()
    return work


def test_what_the_child_sends_comes_in_order_before_its_return_value():
    part = forked.ForkedPart(_send_then(lambda: "done"))
    assert part.receive(timeout=30) == {"countries": ["GEO", "ARM"]}
    assert part.receive(timeout=30) == bytes(3_000_000)
    assert part.receive(timeout=30) == "done"
    with pytest.raises(RuntimeError):
        part.receive(timeout=30)
    assert forked.ForkedPart(_send_then(lambda: "done")).result(timeout=30) == "done"  # the sent objects passed over


def test_a_child_that_fails_after_sending_gives_what_it_sent_then_failed():
    part = forked.ForkedPart(_send_then(lambda: os._exit(3)))
    assert part.receive(timeout=30) == {"countries": ["GEO", "ARM"]}
    assert part.receive(timeout=30) == bytes(3_000_000)
    assert part.receive(timeout=30) is forked.FAILED
    assert part.receive(timeout=30) is forked.FAILED  # and so on: the child is gone
    assert _gone(part._pid)


def test_a_child_that_sends_nothing_more_is_stopped_at_the_deadline():
    def work(send):
        send("first")
        time.sleep(60)

    part = forked.ForkedPart(work)
    assert part.receive(timeout=30) == "first"
    started = time.monotonic()
    assert part.receive(timeout=0.5) is forked.FAILED
    assert time.monotonic() - started < 5
    assert _gone(part._pid)
