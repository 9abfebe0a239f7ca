"""What one unary call costs the server before any of our code runs: grpcio's sync server
(what adpulse runs) against a `grpc.aio` server, side by side, with the same trivial handler.

Each server runs in a process of its own; one client process calls it from `--threads` threads
for `--seconds`, and the server's CPU (utime + stime from /proc) is divided by the calls it
answered. The handler returns its request as it is (no protobuf, no interceptor), so the
figure is the floor of any unary call and of any refusal the server makes in Python: the
question is whether moving the server to asyncio would make a hostile flood cheap enough to
answer. Run: `.venv/bin/python bench/grpc_call_cost.py [--seconds 10] [--threads 8] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import threading
import time
from concurrent import futures
from typing import Any

import grpc

SERVICE, METHOD = "bench.Echo", "Call"


def _same(data: bytes) -> bytes:
    return data


def _sync_echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    return request


async def _aio_echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    return request


def _handlers(behaviour: Any) -> grpc.GenericRpcHandler:
    method = grpc.unary_unary_rpc_method_handler(behaviour, _same, _same)
    return grpc.method_handlers_generic_handler(SERVICE, {METHOD: method})


def _serve(kind: str, ports: Any, stop: Any) -> None:
    if kind == "sync":
        server = grpc.server(futures.ThreadPoolExecutor(32))
        server.add_generic_rpc_handlers((_handlers(_sync_echo),))
        ports.put(server.add_insecure_port("127.0.0.1:0"))
        server.start()
        stop.wait()
        server.stop(0)
        return

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((_handlers(_aio_echo),))
        ports.put(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.stop(0)

    asyncio.run(main())


def _call(port: int, seconds: float, threads: int, out: Any) -> None:
    answered: list[int] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def loop() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{SERVICE}/{METHOD}")
            n = 0
            while time.monotonic() < end:
                call(b"ping", timeout=10)
                n += 1
        with lock:
            answered.append(n)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    out.put(sum(answered))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, seconds: float, threads: int) -> tuple[int, float]:
    """(calls answered, server CPU seconds) of one server of `kind` under the client."""
    ctx = multiprocessing.get_context("spawn")
    ports, stop, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(kind, ports, stop))
    server.start()
    try:
        port = ports.get(timeout=60)
        before = _cpu_seconds(server.pid or 0)
        client = ctx.Process(target=_call, args=(port, seconds, threads, out))
        client.start()
        calls = int(out.get(timeout=seconds + 120))
        client.join()
        return calls, _cpu_seconds(server.pid or 0) - before
    finally:
        stop.set()
        server.join(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=8, help="client threads, one channel each")
    parser.add_argument("--rounds", type=int, default=2, help="each server this many times, alternating")
    args = parser.parse_args()
    per_call: dict[str, list[float]] = {"sync": [], "aio": []}
    print("| round | server | calls/s | server CPU µs per call |")
    print("|---:|---|---:|---:|")
    for round_ in range(1, args.rounds + 1):
        for kind, costs in per_call.items():
            calls, cpu = measure(kind, args.seconds, args.threads)
            costs.append(1e6 * cpu / calls)
            print(f"| {round_} | {kind} | {calls / args.seconds:.0f} | {costs[-1]:.0f} |", flush=True)
    sync, aio = min(per_call["sync"]), min(per_call["aio"])
    print(f"\nbest: sync {sync:.0f} µs, aio {aio:.0f} µs per call; sync / aio {sync / aio:.2f}x")


if __name__ == "__main__":
    main()
