"""docker-compose.yml cannot run here (no Docker engine); its structure is checked instead:
five services and an optional Prometheus, each healthy-checked, restarted, limited, ordered
by health; data in named volumes; passwords, DSNs and the TLS key as secrets; TLS on the one
published port; metrics internal and scraped."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import yaml

from adpulse.server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CORE = {"clickhouse", "postgres", "rabbitmq", "adpulse", "worker"}


def _settings(env: dict[str, str], secrets: dict[str, str], tmp_path: Path) -> Settings:
    """The service's settings, its secret files replaced by files holding `secrets`."""
    local = {}
    for name, value in env.items():
        if name.endswith("_FILE") and value.startswith("/run/secrets/"):
            path = tmp_path / value.rsplit("/", 1)[1]
            path.write_text(secrets[value.rsplit("/", 1)[1]] + "\n")
            local[name] = str(path)
        else:
            local[name] = value
    return Settings.from_env(local)


SAMPLE_SECRETS = {
    "postgres_dsn": "postgresql://adpulse:pg-secret@postgres:5432/adpulse",
    "clickhouse_dsn": "http://adpulse:ch-secret@clickhouse:8123/adpulse",
    "broker_url": "amqp://adpulse:mq-secret@rabbitmq:5672//",
}


def test_every_service_is_checked_restarted_limited_and_ordered_by_health() -> None:
    assert set(SERVICES) == CORE | {"prometheus"}
    assert SERVICES["prometheus"]["profiles"] == ["monitoring"]  # optional
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service["restart"] == "unless-stopped", name
        limits = service["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name
    for name in ("adpulse", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert {dep: d["condition"] for dep, d in depends.items()} == {
            "clickhouse": "service_healthy",
            "postgres": "service_healthy",
            "rabbitmq": "service_healthy",
        }
    assert SERVICES["prometheus"]["depends_on"]["adpulse"]["condition"] == "service_healthy"
    assert SERVICES["adpulse"]["healthcheck"]["test"] == ["CMD", "python", "-m", "adpulse.server.healthcheck"]


def test_data_lives_in_named_volumes() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in COMPOSE["volumes"], (name, volume)  # not a bind mount


def test_no_password_in_the_file_and_every_secret_is_declared() -> None:
    declared = COMPOSE["secrets"]
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)
            assert "@" not in str(value), (name, key)  # no credentials in a URL
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in declared, (name, source)
    for secret in declared.values():
        assert secret["file"].startswith("./secrets/")
    assert "/secrets/" in (ROOT / ".gitignore").read_text().split()
    postgres = SERVICES["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    mounted = {s["target"] for s in SERVICES["clickhouse"]["secrets"]} | {
        s["target"] for s in SERVICES["rabbitmq"]["secrets"]
    }
    assert (
        "/etc/clickhouse-server/users.d/adpulse.xml" in mounted
        and "/etc/rabbitmq/conf.d/20-adpulse.conf" in mounted
    )


def test_the_server_and_the_workers_read_their_stores_from_secrets(tmp_path: Path) -> None:
    server, worker = SERVICES["adpulse"], SERVICES["worker"]
    for service in (server, worker):
        env = service["environment"]
        for name in ("ADPULSE_POSTGRES_DSN_FILE", "ADPULSE_CLICKHOUSE_DSN_FILE", "ADPULSE_BROKER_URL_FILE"):
            assert env[name].removeprefix("/run/secrets/") in service["secrets"], name
    settings = _settings(server["environment"], SAMPLE_SECRETS, tmp_path)
    assert settings.postgres_dsn == SAMPLE_SECRETS["postgres_dsn"]
    assert settings.broker_url == SAMPLE_SECRETS["broker_url"]
    assert settings.effective_clickhouse_dsn == SAMPLE_SECRETS["clickhouse_dsn"]  # not the embedded engine
    assert not settings.embedded_worker  # the workers run the jobs
    workers = _settings(worker["environment"], SAMPLE_SECRETS, tmp_path)
    assert (workers.postgres_dsn, workers.clickhouse_dsn, workers.broker_url) == (
        settings.postgres_dsn,
        settings.clickhouse_dsn,
        settings.broker_url,
    )
    targets = {
        urllib.parse.urlsplit(dsn).hostname: urllib.parse.urlsplit(dsn) for dsn in SAMPLE_SECRETS.values()
    }
    assert set(targets) <= set(SERVICES)  # the sample DSNs name the compose services
    # Uploads land in the server's data dir and exports are written by the workers: one volume.
    assert worker["volumes"] == server["volumes"] == ["adpulse-files:/var/lib/adpulse"]
    assert worker["build"] == server["build"] == "." and worker["command"] == ["worker", "--beat"]
    assert server["command"] == ["serve"]


def test_tls_on_the_one_published_port_and_metrics_only_inside(tmp_path: Path) -> None:
    server = SERVICES["adpulse"]
    env = server["environment"]
    assert (
        env["ADPULSE_TLS_CERT"] == "/run/secrets/tls_cert"
        and env["ADPULSE_TLS_KEY"] == "/run/secrets/tls_key"
    )
    assert {"tls_cert", "tls_key"} <= set(server["secrets"])
    settings = _settings(env, SAMPLE_SECRETS, tmp_path)
    assert settings.listen == "0.0.0.0:50051" and server["ports"] == ["50051:50051"]
    assert settings.metrics_listen == "0.0.0.0:9464" and server["expose"] == ["9464"]
    assert SERVICES["worker"]["environment"]["ADPULSE_WORKER_METRICS_LISTEN"] == "0.0.0.0:9465"
    for name in CORE - {"adpulse"}:
        assert "ports" not in SERVICES[name], (
            name
        )  # stores, broker and workers are not reachable from outside
    assert SERVICES["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]


def test_prometheus_scrapes_the_server_and_every_worker() -> None:
    configs = COMPOSE["configs"]
    prometheus = yaml.safe_load((ROOT / configs["prometheus_config"]["file"]).read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["adpulse-server"]["static_configs"][0]["targets"] == ["adpulse:9464"]
    assert jobs["adpulse-worker"]["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": 9465}
    alerts = yaml.safe_load((ROOT / configs["prometheus_alerts"]["file"]).read_text())
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    assert len(rules) >= 5 and all(rule["expr"] and rule["for"] for rule in rules)
    documented = (ROOT / "docs" / "operations.md").read_text()
    assert all(rule["alert"] in documented for rule in rules)
