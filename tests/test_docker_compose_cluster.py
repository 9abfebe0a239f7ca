"""docker-compose.cluster.yml cannot run here (no Docker engine, no Keeper); its structure and
the ClickHouse configs it mounts are checked against each other instead: every replica of the
cluster is a service with its own macros, the macros place it where remote_servers says, the
Keeper ensemble's ids are unique and every node names all of it, and the servers and workers
run the cluster shape against a name every node answers to."""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from adpulse.server.storage.clickhouse_schema import ClickHouseSchema
from tests.test_docker_compose import SAMPLE_SECRETS, _settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
SERVICES = COMPOSE["services"]
CONFIG = ET.parse(ROOT / "deploy" / "clickhouse" / "cluster.xml").getroot()
CLUSTERS = CONFIG.find("remote_servers")
assert CLUSTERS is not None
(CLUSTER,) = list(CLUSTERS)


def _mounted(service: dict[str, object], target: str) -> Path:
    """The repository file a service mounts at `target`."""
    for volume in service["volumes"]:  # type: ignore[attr-defined]
        source, mount, *_ = volume.split(":")
        if mount == target:
            return ROOT / source
    raise LookupError(target)


def _shards() -> list[list[str]]:
    return [[r.findtext("host", "") for r in shard.findall("replica")] for shard in CLUSTER.findall("shard")]


def test_two_shards_of_two_replicas_each_a_service_with_its_own_place() -> None:
    shards = _shards()
    assert [len(replicas) for replicas in shards] == [2, 2]
    assert all(s.findtext("internal_replication") == "true" for s in CLUSTER.findall("shard"))
    places = set()
    for number, replicas in enumerate(shards, 1):
        for host in replicas:
            node = SERVICES[host]
            assert node["hostname"] == host  # replicas fetch parts from each other by this name
            assert _mounted(node, "/etc/clickhouse-server/config.d/cluster.xml").samefile(
                ROOT / "deploy/clickhouse/cluster.xml"
            )
            macros = ET.parse(_mounted(node, "/etc/clickhouse-server/config.d/macros.xml")).getroot()
            shard, replica = macros.findtext("macros/shard"), macros.findtext("macros/replica")
            assert shard is not None and int(shard) == number, host
            places.add((shard, replica))
    assert len(places) == 4  # no two replicas share a Keeper path and replica name
    nodes = {host for replicas in shards for host in replicas}
    assert {name for name, s in SERVICES.items() if "clickhouse-server" in s.get("image", "")} == nodes


def test_three_keepers_with_unique_ids_that_every_node_names() -> None:
    keepers = {name: s for name, s in SERVICES.items() if "clickhouse-keeper" in s.get("image", "")}
    assert len(keepers) == 3
    ids, ensembles = set(), []
    for name, service in keepers.items():
        config = ET.parse(_mounted(service, "/etc/clickhouse-keeper/keeper_config.d/keeper.xml")).getroot()
        server = config.find("keeper_server")
        assert server is not None and service["hostname"] == name
        ids.add(server.findtext("server_id"))
        ensemble = {
            (s.findtext("id"), s.findtext("hostname"), s.findtext("port"))
            for s in server.findall("raft_configuration/server")
        }
        ensembles.append(ensemble)
        assert (server.findtext("server_id"), name) in {(i, h) for i, h, _ in ensemble}
    assert len(ids) == 3 and all(e == ensembles[0] for e in ensembles)
    client_port = {
        ET.parse(_mounted(keepers[k], "/etc/clickhouse-keeper/keeper_config.d/keeper.xml"))
        .getroot()
        .findtext("keeper_server/tcp_port")
        for k in keepers
    }
    named = {(n.findtext("host"), n.findtext("port")) for n in CONFIG.findall("zookeeper/node")}
    assert named == {(k, port) for k in keepers for port in client_port}
    assert CONFIG.findtext("distributed_ddl/path")  # ON CLUSTER statements queue in Keeper
    for node in (h for replicas in _shards() for h in replicas):
        assert set(SERVICES[node]["depends_on"]) == set(keepers)


def test_servers_and_workers_run_the_cluster_shape_on_a_name_every_node_answers(tmp_path: Path) -> None:
    servers = [s for s in SERVICES.values() if s.get("command") == ["serve"]]
    workers = [s for s in SERVICES.values() if s.get("command", [""])[0] == "worker"]
    assert len(servers) == 2 and len(workers) == 2
    assert sum("--beat" in w["command"] for w in workers) == 1  # one schedules the daily scans
    host = urllib.parse.urlsplit(SAMPLE_SECRETS["clickhouse_dsn"]).hostname
    nodes = [h for replicas in _shards() for h in replicas]
    assert all(host in SERVICES[n]["networks"]["default"]["aliases"] for n in nodes)
    for service in servers + workers:
        settings = _settings(service["environment"], SAMPLE_SECRETS, tmp_path)
        assert settings.clickhouse_cluster == CLUSTER.tag
        assert ClickHouseSchema(settings.clickhouse_cluster).cluster == CLUSTER.tag
        assert set(service["depends_on"]) >= {*nodes, "postgres", "rabbitmq"}
        assert service["volumes"] == ["adpulse-files:/var/lib/adpulse"]
    assert sorted(p for s in servers for p in s["ports"]) == ["50051:50051", "50052:50051"]


def test_every_service_is_checked_restarted_limited_and_keeps_its_secrets_out_of_git() -> None:
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert service["restart"] == "unless-stopped", name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert COMPOSE["secrets"][source]["file"].startswith("./secrets/"), (name, source)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in COMPOSE["volumes"] or (ROOT / source).is_file(), (name, volume)
    # The cluster's inter-server secret is merged into its definition from a secret file.
    assert CLUSTER.find("secret") is None
    targets = {s["target"] for s in SERVICES["ch-s1-r1"]["secrets"]}
    assert "/etc/clickhouse-server/config.d/zz-cluster-secret.xml" in targets
