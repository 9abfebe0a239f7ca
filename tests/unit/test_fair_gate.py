"""The fair gate hands a freed slot to the waiting tenant with the fewest calls running, and a
wait that runs out gives nothing away."""

from __future__ import annotations

import threading
import time

from adpulse.server.transport.fair_gate import FairGate


def _waiting(gate: FairGate, tenant: str, order: list[str]) -> threading.Thread:
    def run() -> None:
        assert gate.acquire(tenant, 30)
        order.append(tenant)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _until(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_freed_slot_goes_to_the_tenant_with_fewest_running_not_the_first_queued() -> None:
    gate = FairGate(2)
    assert gate.acquire("noisy", 0)
    assert gate.acquire("noisy", 0)
    order: list[str] = []
    # The noisy tenant queues three calls before the quiet one arrives.
    threads = [_waiting(gate, "noisy", order) for _ in range(3)]
    _until(lambda: len(gate._waiting.get("noisy", ())) == 3)
    threads.append(_waiting(gate, "quiet", order))
    _until(lambda: "quiet" in gate._waiting)
    gate.release("noisy")
    _until(lambda: len(order) == 1)
    assert order == ["quiet"]
    for _ in range(3):
        gate.release("noisy")
    gate.release("quiet")
    for t in threads:
        t.join(10)
    assert order == ["quiet", "noisy", "noisy", "noisy"]
    assert gate.occupancy() == (1, 0)  # the last noisy call holds its slot; the other came back free


def test_a_wait_that_runs_out_is_refused_and_leaves_the_slot_to_the_next() -> None:
    gate = FairGate(1)
    assert gate.acquire("a", 0)
    assert not gate.acquire("b", 0.05)
    gate.release("a")
    assert gate.acquire("c", 0)  # the slot came back free: "b" no longer waits for it
    assert gate.occupancy() == (1, 0)
