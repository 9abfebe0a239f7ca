"""What the key check costs a call: the AuthStep's `enter` (parse the bearer header, verify the
key, check the scope, decide the tenant) against a real embedded Postgres.

Warm: the key was verified in the last few seconds, so the check is a SHA-256 of the presented
key and a dict lookup (the path almost every call takes; the budget is 50 µs). Cold: the cache
is off, so every check reads the key from Postgres and compares digests in constant time (what
the first call after `ADPULSE_AUTH_CACHE_SECONDS` pays).

    .venv/bin/python bench/auth_check.py [--calls 200000] [--cold-calls 2000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adpulse.server.domain.access import Principal, Scope
from adpulse.server.storage import postgres
from adpulse.server.storage.access_store import PostgresAccessStore
from adpulse.server.transport.auth_step import AuthStep, access_rules
from adpulse.server.transport.calls import Call
from adpulse.server.transport.grpc_server import SERVICE_NAMES
from adpulse.server.usecases.access import AccessUseCase, Authenticator

BUDGET_US = 50.0
METHOD = "/adpulse.v1.AnalyticsService/QueryMetrics"


def _per_call_us(step: AuthStep, call: Call, calls: int, repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            step.enter(call, None)  # type: ignore[arg-type]  # the step does not touch the context
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--cold-calls", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adpulse-auth-bench-") as tmp:
        embedded = postgres.EmbeddedPostgres(Path(tmp) / "postgres")
        pool = postgres.open_pool(embedded.dsn)
        try:
            postgres.migrate(pool)
            store = PostgresAccessStore(pool)
            rules = access_rules(SERVICE_NAMES)
            warm_auth = Authenticator(store, cache_seconds=3600)
            keys: list[str] = []
            AccessUseCase(store, warm_auth).ensure_operator_key(keys.append)
            operator = warm_auth.verify(keys[0])
            actor = Principal(operator.key_id, operator.tenant, operator.scopes)
            tenant_key = AccessUseCase(store, warm_auth).create_key(
                actor, "default", "default", [Scope.READ], "bench", None
            )
            call = Call(method=METHOD, metadata=(("authorization", f"Bearer {tenant_key.text}"),))
            warm = _per_call_us(
                AuthStep(warm_auth, rules, reflection_needs_key=False), call, args.calls, args.repeat
            )
            cold_step = AuthStep(Authenticator(store, cache_seconds=0), rules, reflection_needs_key=False)
            cold = _per_call_us(cold_step, call, args.cold_calls, args.repeat)
        finally:
            pool.close()
            embedded.stop()
    print(
        f"python {platform.python_version()}, {platform.machine()}, "
        f"{args.calls} warm / {args.cold_calls} cold calls, best of {args.repeat}"
    )
    print("| path | best µs/call | median µs/call | budget / best |")
    print("|---|---:|---:|---:|")
    for name, runs in (("warm (cached key)", warm), ("cold (Postgres every call)", cold)):
        best = min(runs)
        print(f"| {name} | {best:.2f} | {statistics.median(runs):.2f} | {BUDGET_US / best:.1f}x |")


if __name__ == "__main__":
    main()
