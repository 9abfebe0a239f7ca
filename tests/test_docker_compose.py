"""docker-compose.yml cannot run here (no Docker engine); its structure is checked instead."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import yaml

from adpulse.server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_deployed_shape_has_its_five_parts_with_health_checks() -> None:
    assert set(SERVICES) == {"clickhouse", "postgres", "rabbitmq", "adpulse", "worker"}
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    for name in ("adpulse", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert {name: d["condition"] for name, d in depends.items()} == {
            "clickhouse": "service_healthy",
            "postgres": "service_healthy",
            "rabbitmq": "service_healthy",
        }


def test_workers_share_the_servers_stores_and_files() -> None:
    server, worker = SERVICES["adpulse"], SERVICES["worker"]
    assert worker["build"] == server["build"] and worker["command"] == ["worker", "--beat"]
    for name in ("ADPULSE_POSTGRES_DSN", "ADPULSE_CLICKHOUSE_DSN", "ADPULSE_BROKER_URL"):
        assert worker["environment"][name] == server["environment"][name], name
    settings = Settings.from_env(worker["environment"])
    assert not settings.effective_clickhouse_dsn.startswith("chdb://")  # so workers may be many
    assert not Settings.from_env(server["environment"]).embedded_worker  # the workers run the jobs
    # Uploads land in the server's data dir and exports are written by the workers: one volume.
    assert worker["volumes"] == server["volumes"] == ["adpulse-files:/var/lib/adpulse"]
    assert "adpulse-files" in COMPOSE["volumes"]


def test_the_server_is_pointed_at_the_other_services() -> None:
    env = SERVICES["adpulse"]["environment"]
    settings = Settings.from_env(env)
    assert settings.listen == "0.0.0.0:50051"
    assert "50051:50051" in SERVICES["adpulse"]["ports"]

    targets = {
        urllib.parse.urlsplit(dsn).hostname: urllib.parse.urlsplit(dsn)
        for dsn in (settings.postgres_dsn, settings.clickhouse_dsn, env["ADPULSE_BROKER_URL"])
        if dsn
    }
    assert targets["postgres"].scheme == "postgresql" and targets["postgres"].port == 5432
    assert targets["clickhouse"].scheme == "http" and targets["clickhouse"].port == 8123
    assert targets["rabbitmq"].scheme == "amqp" and targets["rabbitmq"].port == 5672
    assert settings.effective_clickhouse_dsn == settings.clickhouse_dsn  # not the embedded engine

    credentials = {
        "postgres": (
            SERVICES["postgres"]["environment"]["POSTGRES_USER"],
            SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"],
        ),
        "clickhouse": (
            SERVICES["clickhouse"]["environment"]["CLICKHOUSE_USER"],
            SERVICES["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"],
        ),
        "rabbitmq": (
            SERVICES["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"],
            SERVICES["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"],
        ),
    }
    for host, (user, password) in credentials.items():
        assert (targets[host].username, targets[host].password) == (user, password), host


def test_the_image_builds_the_kernel_and_the_cli() -> None:
    assert SERVICES["adpulse"]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "maturin build --release --locked" in dockerfile  # more in test_image.py
    assert "clients/python" in dockerfile
    assert 'ENTRYPOINT ["adpulse"]' in dockerfile
    assert SERVICES["adpulse"]["command"] == ["serve"]
