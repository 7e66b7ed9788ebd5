"""The shared connection counts behind the balanced accept of gunicorn's workers."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time

from balanced_accept import Slots, wait_until_taken


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_each_living_worker_gets_its_own_slot_and_a_dead_ones_slot_is_reused() -> None:
    slots = Slots(size=2)
    assert slots.claim(os.getpid()) == 0
    assert slots.claim(_dead_pid()) == 1
    assert slots.claim(os.getppid()) == 1  # the second slot's worker has died


def test_a_full_table_gives_no_slot() -> None:
    full = Slots(size=1)
    assert full.claim(os.getpid()) == 0
    assert full.claim(os.getppid()) is None


def test_a_worker_defers_only_to_a_living_sibling_holding_fewer_connections() -> None:
    slots = Slots(size=4)
    me, sibling = slots.claim(os.getpid()), slots.claim(os.getppid())
    assert me is not None and sibling is not None
    slots.publish(me, 1)
    slots.publish(sibling, 1)
    assert not slots.fewer_elsewhere(me)
    slots.publish(sibling, 0)
    assert slots.fewer_elsewhere(me)
    assert not slots.fewer_elsewhere(sibling)
    slots.publish(me, 0)
    assert not slots.fewer_elsewhere(me)


def test_a_dead_siblings_count_is_ignored() -> None:
    slots = Slots(size=4)
    me, gone = slots.claim(os.getpid()), slots.claim(_dead_pid())
    assert me is not None and gone is not None
    slots.publish(me, 3)
    slots.publish(gone, 0)
    assert not slots.fewer_elsewhere(me)


def _publish(slots: Slots, index: int, connections: int) -> None:
    slots.publish(index, connections)


def test_counts_are_shared_with_forked_workers() -> None:
    slots = Slots(size=2)
    me, child_slot = slots.claim(os.getpid()), slots.claim(os.getppid())
    assert me is not None and child_slot is not None
    slots.publish(me, 2)
    slots.publish(child_slot, 2)
    child = multiprocessing.get_context("fork").Process(target=_publish, args=(slots, child_slot, 0))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert slots.fewer_elsewhere(me)


def test_waiting_ends_when_another_worker_takes_the_connection_or_after_the_limit() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        started = time.monotonic()
        wait_until_taken(listener, 5.0)  # nothing waiting: returns at once
        assert time.monotonic() - started < 1.0
        with socket.create_connection(listener.getsockname()):
            started = time.monotonic()
            wait_until_taken(listener, 0.2)  # nobody takes it: waits the limit out
            assert 0.2 <= time.monotonic() - started < 2.0
            threading.Timer(0.1, lambda: listener.accept()[0].close()).start()
            started = time.monotonic()
            wait_until_taken(listener, 5.0)
            assert time.monotonic() - started < 2.0
