"""Deliveries in the deployed shape: RabbitMQ as the broker, an `adpulse worker` process sends
them (the server runs no worker), signing with the servers' key file."""

from __future__ import annotations

from pathlib import Path

from adpulse.client import AdpulseClient
from adpulse.v1 import alert_service_pb2 as pb
from tests.alerts.conftest import FAST_ALERTS, Receiver
from tests.jobs.support import wait_for
from tests.jobs.test_worker_processes import deployed  # noqa: F401 - the fixture
from tests.support.server import running_server, start_worker


def test_an_adpulse_worker_on_rabbitmq_sends_the_deliveries(
    tmp_path: Path,
    deployed: dict[str, str],  # noqa: F811 - the fixture imported above
    receiver: Receiver,
) -> None:
    data = tmp_path / "data"
    env = {**deployed, **FAST_ALERTS}
    server_env = {**env, "ADPULSE_EMBEDDED_WORKER": "false"}
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant="dep") as client,
    ):
        created = client.create_alert_subscription(receiver.url)
        sent = client.test_alert_subscription(created.subscription.name)
    receiver.secret = created.signing_secret
    receiver.start()
    # chDB opens in one process at a time: the worker runs while no server does, as in the
    # other deployed-shape tests. It signs with the key the server made in the data dir.
    worker = start_worker(data, env)
    try:
        wait_for(lambda: len(receiver.requests()) == 1, "the worker to deliver", 120)
        wait_for(lambda: "acknowledged" in worker.log, "the worker to record it")
    finally:
        worker.process.terminate()
        assert worker.process.wait(60) == 0, worker.log
    assert [(r["signed"], r["delivery"]) for r in receiver.requests()] == [
        (True, sent.name.removeprefix("alertDeliveries/"))
    ]
    with (
        running_server(data, server_env) as server,
        AdpulseClient(server.address, api_key=server.admin_key, tenant="dep") as client,
    ):
        done = client.alert_delivery(sent.name)
    assert (done.state, done.attempts) == (pb.ALERT_DELIVERY_STATE_DELIVERED, 1)
