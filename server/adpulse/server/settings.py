"""Settings from `ADPULSE_*` environment variables; the CLI's flags override them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adpulse.server.domain.restatement import RestatementWindows
from adpulse.server.storage.clickhouse_schema import CLUSTER_NAME

DEFAULT_LISTEN = "127.0.0.1:50051"


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs to build the server."""

    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path(".adpulse")
    postgres_dsn: str | None = None
    clickhouse_dsn: str | None = None
    reflection: bool = True
    max_message_bytes: int = 64 * 1024 * 1024
    max_decompressed_bytes: int = 256 * 1024 * 1024
    grpc_workers: int = 32
    shutdown_grace_seconds: int = 10
    heartbeat_seconds: int = 15
    faults: frozenset[str] = field(default_factory=frozenset)
    restatement: RestatementWindows = field(default_factory=RestatementWindows)
    # Long calls: streams and WaitOperation (transport/stream_limits.py), keepalive.
    stream_idle_seconds: int = 60
    max_streams: int = 16
    max_streams_per_tenant: int = 8
    # Other calls of one tenant running at once; by default a quarter of the threads, so a
    # flooding tenant leaves the rest to the others (transport/stream_limits.py).
    tenant_max_concurrent_calls: int = 8
    # Unary calls running at once over all tenants, and how long one waits for its turn; by
    # default twice the cores, so the interpreter is shared by few (transport/fair_gate.py).
    max_running_calls: int = 4
    call_queue_seconds: int = 5
    max_wait_seconds: int = 60
    keepalive_seconds: int = 60
    keepalive_timeout_seconds: int = 20
    # Input: lines; bytes held at once by all payloads being read (messages, unpacked, buffers).
    max_line_bytes: int = 1024 * 1024
    decompression_budget_bytes: int = 512 * 1024 * 1024
    # Fair share (calls: transport/rate_limits.py; ingest rows: usecases/fair_share.py): token
    # buckets, a rate a second and a burst.
    tenant_requests_per_second: int = 300
    tenant_request_burst: int = 600
    key_requests_per_second: int = 150
    key_request_burst: int = 300
    tenant_rows_per_second: int = 5_000_000
    tenant_row_burst: int = 20_000_000
    # Per tenant, `tenant=requests_per_second:rows_per_second` (bursts twice the rate).
    tenant_rate_overrides: tuple[tuple[str, int, int], ...] = ()
    # Caps every request is checked against before work (transport/request_limits.py).
    max_text_chars: int = 65536
    max_filter_values: int = 1000
    max_request_items: int = 100_000
    max_daily_span_days: int = 1830
    max_weekly_span_days: int = 7305
    max_monthly_span_days: int = 65744
    max_window_days: int = 366
    max_results: int = 10_000
    # Series a GetTrends or DetectAnomalies may split into, counted before any is computed.
    max_series: int = 10_000
    max_groups: int = 100_000
    # Long jobs (operations).
    broker_url: str | None = None
    embedded_worker: bool = True
    worker_concurrency: int = 2
    import_dir: Path | None = None
    export_dir: Path | None = None
    max_upload_bytes: int = 10 * 1024**3
    # Uploads and exports a tenant keeps at once, and some tenants' own (`tenant=bytes`).
    tenant_storage_bytes: int = 50 * 1024**3
    tenant_storage_overrides: tuple[tuple[str, int], ...] = ()
    operation_slice_seconds: int = 300
    export_part_rows: int = 1_000_000
    reconcile_seconds: int = 15
    requeue_after_seconds: int = 300
    job_max_retries: int = 8
    operation_max_recoveries: int = 5
    daily_scan_at: dt.time | None = dt.time(2, 0)
    file_expiry_days: int = 7
    # Queries.
    query_cache_bytes: int = 256 * 1024 * 1024
    insight_runs_cache_bytes: int = 64 * 1024 * 1024
    clickhouse_connections: int = 4
    # A ClickHouse cluster's name (its remote_servers entry): Replicated + Distributed tables.
    clickhouse_cluster: str = ""
    max_search_query_chars: int = 200
    max_search_page_size: int = 100
    # Access: keys, TLS.
    auth_cache_seconds: int = 5
    reflection_needs_key: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    allow_insecure: bool = False
    # Observability: metrics endpoints ("" switches one off), logs.
    metrics_listen: str = "127.0.0.1:9464"
    worker_metrics_listen: str = "127.0.0.1:9465"
    metrics_tenant_labels: bool = False
    log_format: str = "auto"
    log_level: str = "INFO"
    # Alerts (webhook deliveries).
    alert_key_file: Path | None = None
    alert_timeout_seconds: int = 10
    alert_max_attempts: int = 8
    alert_retry_base_seconds: int = 30
    alert_retry_cap_seconds: int = 3600
    alert_allow_loopback: bool = True
    alert_allow_networks: tuple[str, ...] = ()
    alert_max_subscriptions: int = 50
    alert_digest_at: dt.time | None = dt.time(8, 0)
    alert_digest_days: int = 7
    alert_digest_max_insights: int = 20

    @property
    def effective_import_dir(self) -> Path:
        return self.import_dir or self.data_dir / "imports"

    @property
    def effective_export_dir(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    @property
    def effective_alert_key_file(self) -> Path:
        return self.alert_key_file or self.data_dir / "alerts.key"

    @property
    def effective_clickhouse_dsn(self) -> str:
        """Unset means the embedded engine (chDB) under the data dir."""
        return self.clickhouse_dsn or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            listen=env.get("ADPULSE_LISTEN") or DEFAULT_LISTEN,
            data_dir=Path(env.get("ADPULSE_DATA_DIR") or ".adpulse"),
            postgres_dsn=_secret(env, "ADPULSE_POSTGRES_DSN"),
            clickhouse_dsn=_secret(env, "ADPULSE_CLICKHOUSE_DSN"),
            reflection=_bool(env, "ADPULSE_REFLECTION", True),
            max_message_bytes=_int(env, "ADPULSE_MAX_MESSAGE_BYTES", 64 * 1024 * 1024, 1024),
            max_decompressed_bytes=_int(env, "ADPULSE_MAX_DECOMPRESSED_BYTES", 256 * 1024 * 1024, 1024),
            grpc_workers=_int(env, "ADPULSE_GRPC_WORKERS", 32, 2),
            shutdown_grace_seconds=_int(env, "ADPULSE_SHUTDOWN_GRACE_SECONDS", 10, 0),
            heartbeat_seconds=_int(env, "ADPULSE_HEARTBEAT_SECONDS", 15, 1),
            faults=frozenset(f.strip() for f in env.get("ADPULSE_FAULTS", "").split(",") if f.strip()),
            restatement=_restatement(env),
            broker_url=_secret(env, "ADPULSE_BROKER_URL"),
            # Without a broker the worker must be in the server; with one it may be, too.
            embedded_worker=_bool(env, "ADPULSE_EMBEDDED_WORKER", not _secret(env, "ADPULSE_BROKER_URL")),
            worker_concurrency=_int(env, "ADPULSE_WORKER_CONCURRENCY", 2, 1),
            import_dir=Path(env["ADPULSE_IMPORT_DIR"]) if env.get("ADPULSE_IMPORT_DIR") else None,
            export_dir=Path(env["ADPULSE_EXPORT_DIR"]) if env.get("ADPULSE_EXPORT_DIR") else None,
            max_upload_bytes=_int(env, "ADPULSE_MAX_UPLOAD_BYTES", 10 * 1024**3, 1),
            tenant_storage_bytes=_int(env, "ADPULSE_TENANT_STORAGE_BYTES", 50 * 1024**3, 0),
            tenant_storage_overrides=_storage_overrides(env.get("ADPULSE_TENANT_STORAGE_OVERRIDES", "")),
            operation_slice_seconds=_int(env, "ADPULSE_OPERATION_SLICE_SECONDS", 300, 1),
            export_part_rows=_int(env, "ADPULSE_EXPORT_PART_ROWS", 1_000_000, 1),
            reconcile_seconds=_int(env, "ADPULSE_RECONCILE_SECONDS", 15, 1),
            requeue_after_seconds=_int(env, "ADPULSE_REQUEUE_AFTER_SECONDS", 300, 1),
            job_max_retries=_int(env, "ADPULSE_JOB_MAX_RETRIES", 8, 0),
            operation_max_recoveries=_int(env, "ADPULSE_OPERATION_MAX_RECOVERIES", 5, 0),
            daily_scan_at=_time_of_day(env, "ADPULSE_DAILY_SCAN_AT", dt.time(2, 0)),
            file_expiry_days=_int(env, "ADPULSE_FILE_EXPIRY_DAYS", 7, 1),
            query_cache_bytes=_int(env, "ADPULSE_QUERY_CACHE_BYTES", 256 * 1024 * 1024, 0),
            insight_runs_cache_bytes=_int(env, "ADPULSE_INSIGHT_RUNS_CACHE_BYTES", 64 * 1024 * 1024, 0),
            clickhouse_connections=_int(env, "ADPULSE_CLICKHOUSE_CONNECTIONS", 4, 1),
            clickhouse_cluster=env.get("ADPULSE_CLICKHOUSE_CLUSTER", "").strip(),
            max_search_query_chars=_int(env, "ADPULSE_MAX_SEARCH_QUERY_CHARS", 200, 1),
            max_search_page_size=_int(env, "ADPULSE_MAX_SEARCH_PAGE_SIZE", 100, 1),
            auth_cache_seconds=_int(env, "ADPULSE_AUTH_CACHE_SECONDS", 5, 0),
            reflection_needs_key=_bool(env, "ADPULSE_REFLECTION_NEEDS_KEY", False),
            tls_cert=_path(env, "ADPULSE_TLS_CERT"),
            tls_key=_path(env, "ADPULSE_TLS_KEY"),
            tls_client_ca=_path(env, "ADPULSE_TLS_CLIENT_CA"),
            allow_insecure=_bool(env, "ADPULSE_ALLOW_INSECURE", False),
            metrics_listen=env.get("ADPULSE_METRICS_LISTEN", "127.0.0.1:9464").strip(),
            worker_metrics_listen=env.get("ADPULSE_WORKER_METRICS_LISTEN", "127.0.0.1:9465").strip(),
            metrics_tenant_labels=_bool(env, "ADPULSE_METRICS_TENANT_LABELS", False),
            log_format=_choice(env, "ADPULSE_LOG_FORMAT", ("auto", "json", "text")),
            log_level=_choice(env, "ADPULSE_LOG_LEVEL", ("INFO", "DEBUG", "WARNING", "ERROR")),
            **_alert_settings(env),
            tenant_max_concurrent_calls=_tenant_max_concurrent_calls(env),
            max_running_calls=_int(env, "ADPULSE_MAX_RUNNING_CALLS", max(2, 2 * (os.cpu_count() or 1)), 1),
            **_limits(env),
        ).checked()

    @property
    def admin_key_file(self) -> Path:
        """Where the first start writes the operator key."""
        return self.data_dir / "admin.key"

    def checked(self) -> Settings:
        """These settings, refused when they would serve an unsafe or impossible shape."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("ADPULSE_TLS_CERT and ADPULSE_TLS_KEY go together: set both or neither")
        if self.max_streams >= self.grpc_workers:
            raise SettingsError(
                f"ADPULSE_MAX_STREAMS ({self.max_streams}) must be below ADPULSE_GRPC_WORKERS "
                f"({self.grpc_workers}): streams hold a thread each, and the rest answer everything else"
            )
        if self.tenant_max_concurrent_calls >= self.grpc_workers:
            raise SettingsError(
                f"ADPULSE_TENANT_MAX_CONCURRENT_CALLS ({self.tenant_max_concurrent_calls}) must be below "
                f"ADPULSE_GRPC_WORKERS ({self.grpc_workers}): one tenant must not hold every thread"
            )
        if self.clickhouse_cluster and not CLUSTER_NAME.fullmatch(self.clickhouse_cluster):
            raise SettingsError(
                f"ADPULSE_CLICKHOUSE_CLUSTER must be a cluster name (letters, digits, _), "
                f"got {self.clickhouse_cluster!r}"
            )
        if self.clickhouse_cluster and self.effective_clickhouse_dsn.startswith("chdb://"):
            raise SettingsError(
                "ADPULSE_CLICKHOUSE_CLUSTER needs ClickHouse servers: set ADPULSE_CLICKHOUSE_DSN to one "
                "of the cluster's nodes (http://…:8123); the embedded engine is one node"
            )
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise SettingsError("ADPULSE_TLS_CLIENT_CA needs ADPULSE_TLS_CERT and ADPULSE_TLS_KEY")
        if self.tls_cert is None and not self.allow_insecure and not is_loopback(self.listen):
            raise SettingsError(
                f"refusing to serve plaintext on {self.listen}, which is not a loopback address: "
                "set ADPULSE_TLS_CERT and ADPULSE_TLS_KEY, or ADPULSE_ALLOW_INSECURE=1 to accept "
                "that keys and data cross the network unencrypted"
            )
        return self


def _path(env: Mapping[str, str], name: str) -> Path | None:
    return Path(env[name]) if env.get(name) else None


def is_loopback(listen: str) -> bool:
    """Whether `host:port` names only this machine (`localhost`, 127.0.0.0/8, ::1)."""
    return _is_loopback(listen.rsplit(":", 1)[0].strip("[]"))


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """`name`, or the first line of the file `name_FILE` names (a Docker or Kubernetes secret),
    so a DSN's password need not sit in the environment."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise SettingsError(f"{name}_FILE: cannot read {path}: {err.strerror}") from None
    return lines[0].strip() if lines and lines[0].strip() else None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive); unset means the first."""
    raw = env.get(name, "").strip()
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    if raw == "":
        return choices[0]
    raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


def _alert_settings(env: Mapping[str, str]) -> dict[str, Any]:
    listen_host = (env.get("ADPULSE_LISTEN") or DEFAULT_LISTEN).rsplit(":", 1)[0].strip("[]")
    key_file = env.get("ADPULSE_ALERT_KEY_FILE")
    networks = tuple(n.strip() for n in env.get("ADPULSE_ALERT_ALLOW_NETWORKS", "").split(",") if n.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise SettingsError(
                f"ADPULSE_ALERT_ALLOW_NETWORKS: {network!r} is not a network (CIDR)"
            ) from None
    return {
        "alert_key_file": Path(key_file) if key_file else None,
        "alert_timeout_seconds": _int(env, "ADPULSE_ALERT_TIMEOUT_SECONDS", 10, 1),
        "alert_max_attempts": _int(env, "ADPULSE_ALERT_MAX_ATTEMPTS", 8, 1),
        "alert_retry_base_seconds": _int(env, "ADPULSE_ALERT_RETRY_BASE_SECONDS", 30, 1),
        "alert_retry_cap_seconds": _int(env, "ADPULSE_ALERT_RETRY_CAP_SECONDS", 3600, 1),
        # A server that listens on loopback is a developer's: its tenants may test against a
        # receiver on the same machine. Elsewhere a loopback URL would reach the server's own
        # services, so it is off unless said out loud.
        "alert_allow_loopback": _bool(env, "ADPULSE_ALERT_ALLOW_LOOPBACK", _is_loopback(listen_host)),
        "alert_allow_networks": networks,
        "alert_max_subscriptions": _int(env, "ADPULSE_ALERT_MAX_SUBSCRIPTIONS", 50, 1),
        "alert_digest_at": _time_of_day(env, "ADPULSE_ALERT_DIGEST_AT", dt.time(8, 0)),
        "alert_digest_days": _int(env, "ADPULSE_ALERT_DIGEST_DAYS", 7, 1),
        "alert_digest_max_insights": _int(env, "ADPULSE_ALERT_DIGEST_MAX_INSIGHTS", 20, 1),
    }


def _limits(env: Mapping[str, str]) -> dict[str, Any]:
    defaults = Settings()
    names = (
        "max_line_bytes",
        "decompression_budget_bytes",
        "tenant_requests_per_second",
        "tenant_request_burst",
        "key_requests_per_second",
        "key_request_burst",
        "tenant_rows_per_second",
        "tenant_row_burst",
        "stream_idle_seconds",
        "max_streams",
        "max_streams_per_tenant",
        "max_wait_seconds",
        "call_queue_seconds",
        "keepalive_seconds",
        "keepalive_timeout_seconds",
        "max_text_chars",
        "max_filter_values",
        "max_request_items",
        "max_daily_span_days",
        "max_weekly_span_days",
        "max_monthly_span_days",
        "max_window_days",
        "max_results",
        "max_series",
        "max_groups",
    )
    limits: dict[str, Any] = {
        name: _int(env, f"ADPULSE_{name.upper()}", getattr(defaults, name), 1) for name in names
    }
    limits["tenant_rate_overrides"] = _rate_overrides(env.get("ADPULSE_TENANT_RATE_OVERRIDES", ""))
    return limits


def _tenant_max_concurrent_calls(env: Mapping[str, str]) -> int:
    # A quarter of the threads unless set, so a smaller server keeps the same shares.
    quarter = max(1, _int(env, "ADPULSE_GRPC_WORKERS", 32, 2) // 4)
    return _int(env, "ADPULSE_TENANT_MAX_CONCURRENT_CALLS", quarter, 1)


def _rate_overrides(raw: str) -> tuple[tuple[str, int, int], ...]:
    overrides = []
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        tenant, _, rates = entry.partition("=")
        requests, _, rows = rates.partition(":")
        if not (tenant.strip() and requests.isdigit() and rows.isdigit() and int(requests) and int(rows)):
            raise SettingsError(
                f"ADPULSE_TENANT_RATE_OVERRIDES: {entry!r} is not tenant=requests_per_second:rows_per_second"
            )
        overrides.append((tenant.strip(), int(requests), int(rows)))
    return tuple(overrides)


def _storage_overrides(raw: str) -> tuple[tuple[str, int], ...]:
    overrides = []
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        tenant, _, size = entry.partition("=")
        if not (tenant.strip() and size.strip().isdigit()):
            raise SettingsError(f"ADPULSE_TENANT_STORAGE_OVERRIDES: {entry!r} is not tenant=bytes")
        overrides.append((tenant.strip(), int(size)))
    return tuple(overrides)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _restatement(env: Mapping[str, str]) -> RestatementWindows:
    try:
        return RestatementWindows.parse(env.get("ADPULSE_RESTATEMENT_DAYS", ""))
    except ValueError as err:
        raise SettingsError(f"ADPULSE_RESTATEMENT_DAYS: {err}") from None


def _time_of_day(env: Mapping[str, str], name: str, default: dt.time) -> dt.time | None:
    """`HH:MM` (UTC), or `off`."""
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw == "off":
        return None
    try:
        return dt.time.fromisoformat(raw) if len(raw) == 5 else _bad_time(name, raw)
    except ValueError:
        return _bad_time(name, raw)


def _bad_time(name: str, raw: str) -> dt.time:
    raise SettingsError(f"{name} must be HH:MM (UTC) or off, got {raw!r}")
