"""Fair share under a flood: two tenants on one server, one of them flooding it with queries.

The quiet tenant sends one QueryMetrics at a time (its latency is what a well-behaved client
sees); the noisy tenant runs `--flood-threads` clients in a tight loop. Run 1: the quiet tenant
alone (baseline). Run 2: both, with the default fair-share limits (the noisy tenant is held to
its token bucket and to its calls at once, and gets RESOURCE_EXHAUSTED beyond them). Run 3:
both, with a tenant rate sized to what this server can answer (`--tight-rate`). Run 4: both,
with fewer calls at once per tenant (`--tight-calls`). Run 5: both, with the limits lifted
(rates huge, calls at once up to the threads), to show what the limits buy. The goal: the
quiet tenant's p99 under a flood within 2x of its baseline.

    .venv/bin/python bench/fairness.py [--seconds 20] [--flood-threads 16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse.client import AdpulseClient
from adpulse.v1 import analytics_service_pb2 as apb
from adpulse.v1 import analytics_service_pb2_grpc as apb_grpc
from adpulse.v1 import ingest_service_pb2 as ipb
from tests.support.facts import random_facts, to_csv
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


def _run(server: ServerProcess, seconds: float, flood_threads: int) -> tuple[list[float], Counter[str]]:
    quiet, noisy = f"quiet-{uuid.uuid4().hex[:6]}", f"noisy-{uuid.uuid4().hex[:6]}"
    _load(server, quiet)
    _load(server, noisy)
    stop = threading.Event()
    flood_codes: Counter[str] = Counter()
    lock = threading.Lock()

    def flood() -> None:
        with grpc.insecure_channel(server.address) as channel:
            stub = apb_grpc.AnalyticsServiceStub(channel)
            metadata = (("x-adpulse-tenant", noisy), *server.key_metadata)
            while not stop.is_set():
                code = _query(stub, metadata)
                with lock:
                    flood_codes[code] += 1

    flooders = [threading.Thread(target=flood, daemon=True) for _ in range(flood_threads)]
    for t in flooders:
        t.start()
    latencies = []
    with grpc.insecure_channel(server.address) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        metadata = (("x-adpulse-tenant", quiet), *server.key_metadata)
        _query(stub, metadata)  # warm
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            code = _query(stub, metadata)
            latencies.append((time.perf_counter() - started) * 1000)
            assert code == "OK", code
            time.sleep(0.02)
    stop.set()
    for t in flooders:
        t.join(60)
    return latencies, flood_codes


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 100 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--flood-threads", type=int, default=16)
    parser.add_argument("--tight-rate", type=int, default=50, help="a tenant rate sized to this server")
    parser.add_argument("--tight-calls", type=int, default=2, help="calls at once per tenant")
    args = parser.parse_args()
    tight = str(args.tight_rate)
    lifted = {"ADPULSE_TENANT_REQUESTS_PER_SECOND": "1000000", "ADPULSE_TENANT_REQUEST_BURST": "1000000"}
    rows = []
    for label, flood_threads, env in (
        ("quiet tenant alone", 0, {}),
        ("with a flood, default limits", args.flood_threads, {}),
        (
            f"with a flood, tenant rate {tight}/s",
            args.flood_threads,
            {"ADPULSE_TENANT_REQUESTS_PER_SECOND": tight, "ADPULSE_TENANT_REQUEST_BURST": tight},
        ),
        (
            f"with a flood, {args.tight_calls} calls at once per tenant",
            args.flood_threads,
            {"ADPULSE_TENANT_MAX_CONCURRENT_CALLS": str(args.tight_calls)},
        ),
        (
            "with a flood, limits lifted",
            args.flood_threads,
            {**lifted, "ADPULSE_TENANT_MAX_CONCURRENT_CALLS": "31"},
        ),
    ):
        with (
            tempfile.TemporaryDirectory(prefix="adpulse-fairness-") as tmp,
            running_server(Path(tmp) / "data", {"ADPULSE_LOG_LEVEL": "WARNING", **env}) as server,
        ):
            latencies, codes = _run(server, args.seconds, flood_threads)
        rows.append((label, latencies, codes))
        print(f"{label}: {len(latencies)} quiet calls, flood answers {dict(codes)}", flush=True)
    base = _p(rows[0][1], 99)
    print("\n| run | quiet calls | p50 ms | p99 ms | p99 / alone | flood calls OK | flood refused |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, latencies, codes in rows:
        refused = sum(n for code, n in codes.items() if code != "OK")
        print(
            f"| {label} | {len(latencies)} | {_p(latencies, 50):.1f} | {_p(latencies, 99):.1f} | "
            f"{_p(latencies, 99) / base:.2f}x | {codes.get('OK', 0)} | {refused} |"
        )


if __name__ == "__main__":
    main()
