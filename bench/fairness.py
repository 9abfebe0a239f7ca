"""Fair share under a flood: two tenants on one server, one of them flooding it with queries.

The quiet tenant sends one QueryMetrics at a time, 20 ms apart (its latency is what a
well-behaved client sees); the noisy tenant runs `--flood-threads` clients in a tight loop that
ignores RetryInfo, from a process of its own. On each server the flood is on in every other
`--window`, so the quiet tenant's latency alone and flooded are measured under the same
background load of the machine (this VM is shared: a baseline from another minute is not
comparable). One server per configuration: the defaults, a tenant rate sized to this server,
the fair gate off, and every limit lifted. The goal: the quiet tenant's p99 flooded within 2x
of its p99 alone.

    .venv/bin/python bench/fairness.py [--seconds 40] [--flood-threads 16] [--flood-nice 19]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from tests.support.facts import random_facts, to_csv
from tests.support.nginx import nginx_front
from tests.support.server import ServerProcess, running_server


def _load(server: ServerProcess, tenant: str) -> None:
    facts = random_facts(seed=3, n_campaigns=20, days=30)
    with AdpulseClient(server.address, tenant=tenant, api_key=server.admin_key) as client:
        data = to_csv(f.csv_values() for f in facts).encode()
        batch = ipb.IngestBatch(batch_id="b", text=ipb.TextPayload(format=ipb.TEXT_FORMAT_CSV, data=data))
        list(client.ingest([batch]))


def _query(stub: apb_grpc.AnalyticsServiceStub, metadata: tuple[tuple[str, str], ...]) -> str:
    try:
        stub.QueryMetrics(
            apb.QueryMetricsRequest(dimensions=[apb.DIMENSION_CAMPAIGN]), metadata=metadata, timeout=30
        )
        return "OK"
    except grpc.RpcError as err:
        return err.code().name  # type: ignore[attr-defined, no-any-return]


def _flood(
    target: tuple[str, tuple[tuple[str, str], ...]], threads: int, nice: int, flags: Any, out: Any
) -> None:
    """The noisy tenant, in a process of its own (in the quiet client's process its threads
    would hold that client's interpreter, and the quiet calls would wait on the client, not the
    server). It floods while `flags[0]` is set and stops when `flags[1]` is."""
    address, metadata = target
    os.nice(nice)
    flooding, done = flags
    codes: Counter[str] = Counter()
    lock = threading.Lock()

    def loop() -> None:
        with grpc.insecure_channel(address) as channel:
            stub = apb_grpc.AnalyticsServiceStub(channel)
            while not done.is_set():
                if not flooding.wait(0.1):
                    continue
                code = _query(stub, metadata)
                with lock:
                    codes[code] += 1

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for t in workers:
        t.start()
    done.wait()
    for t in workers:
        t.join(60)
    out.put(dict(codes))


def _run(
    server: ServerProcess, address: str, args: argparse.Namespace
) -> tuple[list[float], list[float], Counter[str]]:
    """The quiet tenant's latencies in windows without and with the flood, alternating on one
    server, so both see the same background load of the machine. Both tenants call `address`:
    the server's, or a proxy's in front of it."""
    quiet, noisy = f"quiet-{uuid.uuid4().hex[:6]}", f"noisy-{uuid.uuid4().hex[:6]}"
    _load(server, quiet)
    _load(server, noisy)
    ctx = multiprocessing.get_context("spawn")
    flooding, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    noisy_metadata = (("x-adpulse-tenant", noisy), *server.key_metadata)
    flooder = ctx.Process(
        target=_flood,
        args=(
            (address, noisy_metadata),
            args.flood_threads,
            args.flood_nice,
            (flooding, done),
            results,
        ),
    )
    flooder.start()
    alone: list[float] = []
    flooded: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        metadata = (("x-adpulse-tenant", quiet), *server.key_metadata)
        _query(stub, metadata)  # warm
        for window in range(int(args.seconds / args.window)):
            into = flooded if window % 2 else alone
            if window % 2:
                flooding.set()
            time.sleep(0.5)  # the flood is up (or has drained) before this window is timed
            deadline = time.monotonic() + args.window
            while time.monotonic() < deadline:
                started = time.perf_counter()
                code = _query(stub, metadata)
                into.append((time.perf_counter() - started) * 1000)
                assert code == "OK", code
                time.sleep(0.02)
            flooding.clear()
    done.set()
    codes: Counter[str] = Counter(results.get(timeout=120))
    flooder.join(60)
    return alone, flooded, codes


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 100 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40, help="per configuration, half of it flooded")
    parser.add_argument("--window", type=float, default=2, help="seconds per window, alone or flooded")
    parser.add_argument("--flood-threads", type=int, default=16)
    parser.add_argument(
        "--flood-nice", type=int, default=0, help="niceness of the flood's process (it shares the cores)"
    )
    parser.add_argument("--tight-rate", type=int, default=50, help="a tenant rate sized to this server")
    parser.add_argument(
        "--only", default="", help="run only the configurations whose label contains this (e.g. nginx)"
    )
    args = parser.parse_args()
    tight = str(args.tight_rate)
    lifted = {
        "ADPULSE_TENANT_REQUESTS_PER_SECOND": "1000000",
        "ADPULSE_TENANT_REQUEST_BURST": "1000000",
        "ADPULSE_TENANT_MAX_CONCURRENT_CALLS": "31",
        "ADPULSE_MAX_RUNNING_CALLS": "32",
    }
    print(
        "| limits | quiet calls alone / flooded | p50 ms alone / flooded | p99 ms alone / flooded "
        "| p99 flooded / alone | flood answered | flood refused |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    tight_env = {"ADPULSE_TENANT_REQUESTS_PER_SECOND": tight, "ADPULSE_TENANT_REQUEST_BURST": tight}
    configurations: list[tuple[str, dict[str, str], bool]] = [
        ("defaults", {}, False),
        (f"tenant rate {tight}/s", tight_env, False),
        ("no fair gate (running calls up to the threads)", {"ADPULSE_MAX_RUNNING_CALLS": "32"}, False),
        ("lifted (no rate, no caps, no gate)", lifted, False),
    ]
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        # deploy/nginx's front, refusing each caller over the same rate before Python sees it.
        configurations.append((f"behind nginx, {tight}/s per caller", tight_env, True))
    for label, env, proxied in configurations:
        if args.only not in label:
            continue
        with (
            tempfile.TemporaryDirectory(prefix="adpulse-fairness-") as tmp,
            running_server(Path(tmp) / "data", {"ADPULSE_LOG_LEVEL": "WARNING", **env}) as server,
            nginx_front(server.address, args.tight_rate, args.tight_rate)
            if proxied
            else contextlib.nullcontext(server.address) as address,
        ):
            alone, flooded, codes = _run(server, address, args)
        refused = sum(n for code, n in codes.items() if code != "OK")
        print(
            f"| {label} | {len(alone)} / {len(flooded)} | {_p(alone, 50):.1f} / {_p(flooded, 50):.1f} | "
            f"{_p(alone, 99):.1f} / {_p(flooded, 99):.1f} | {_p(flooded, 99) / _p(alone, 99):.2f}x | "
            f"{codes.get('OK', 0)} | {refused} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
