"""Traces, with the SDK's in-memory exporter and a server built in this process: an Ingest call
is one trace whose spans show the kernel decoding, the ledger in Postgres and the insert into
ClickHouse; an ImportFile call's trace goes on in the worker that runs the job, carried in the
Celery message."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from adpulse.client import AdpulseClient
from adpulse.server.settings import Settings
from adpulse.server.wiring import server as wiring
from adpulse.v1 import ingest_service_pb2 as pb
from adpulse.v1 import ingest_service_pb2_grpc as pb_grpc
from tests.support.facts import random_facts, to_csv

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
TRACEPARENT = f"00-{TRACE_ID:032x}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


@pytest.fixture(scope="module")
def app(
    exporter: InMemorySpanExporter, tmp_path_factory: pytest.TempPathFactory, chdb_dir: Path
) -> Iterator[wiring.App]:
    data = tmp_path_factory.mktemp("traced") / "data"
    (data / "imports" / "traced").mkdir(parents=True)
    (data / "imports" / "traced" / "facts.csv").write_text(
        to_csv(f.csv_values() for f in random_facts(seed=3, n_campaigns=3, days=5))
    )
    # In this process, so on its one chDB path; the tenant keeps its facts apart.
    settings = Settings(
        listen="127.0.0.1:0", data_dir=data, metrics_listen="", clickhouse_dsn=f"chdb://{chdb_dir}"
    )
    built = wiring.build(settings)
    try:
        yield built
    finally:
        built.stop()


def _key(app: wiring.App) -> str:
    return app.settings.admin_key_file.read_text().strip()


def _child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def _children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if _child_of(s, parent)]


def _names(spans: Sequence[ReadableSpan]) -> set[str]:
    return {s.name for s in spans}


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, _names(spans))
    return found[0]


def test_an_ingest_call_is_one_trace_with_kernel_and_store_spans(
    app: wiring.App, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    csv = to_csv(f.csv_values() for f in random_facts(seed=4, n_campaigns=2, days=3)).encode()
    requests = [
        pb.IngestRequest(open=pb.StreamOpen(source="generic")),
        pb.IngestRequest(
            batch=pb.IngestBatch(batch_id="t1", text=pb.TextPayload(format=pb.TEXT_FORMAT_CSV, data=csv))
        ),
    ]
    with grpc.insecure_channel(app.address) as channel:
        acks = list(
            pb_grpc.IngestServiceStub(channel).Ingest(
                iter(requests),
                metadata=(
                    ("traceparent", TRACEPARENT),
                    ("x-adpulse-tenant", "traced"),
                    ("authorization", f"Bearer {_key(app)}"),
                ),
                timeout=60,
            )
        )
    assert acks[-1].ack.accepted > 0
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == TRACE_ID]
    call = _one(spans, "adpulse.v1.IngestService/Ingest")
    assert (
        call.kind is SpanKind.SERVER and call.parent is not None and call.parent.span_id == 0x00F067AA0BA902B7
    )
    assert call.attributes is not None and call.attributes["rpc.method"] == "Ingest"
    assert {"kernel kernel.inspect_request", "postgres PostgresRunStore.start", "ingest batch"} <= _names(
        _children(spans, call)
    )
    batch = _one(spans, "ingest batch")
    assert {
        "postgres PostgresBatchLedger.find",
        "kernel kernel.parse_batch",
        "postgres PostgresBatchLedger.claim",
        "clickhouse ClickHouseFactStore.insert",
        "postgres PostgresRunStore.record_batch",
    } <= _names(_children(spans, batch))
    commit = _one(spans, "postgres PostgresBatchLedger.claim.commit")
    assert commit.parent is not None and commit.parent.span_id == batch.context.span_id
    insert = _one(spans, "clickhouse ClickHouseFactStore.insert")
    assert insert.attributes is not None and insert.attributes["db.system"] == "clickhouse"
    # Nothing of the rows is in any span.
    assert all("Campaign" not in str(s.attributes) for s in spans)


def test_a_jobs_spans_join_the_trace_of_the_call_that_queued_it(
    app: wiring.App, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    with grpc.insecure_channel(app.address) as channel:
        started = pb_grpc.IngestServiceStub(channel).ImportFile(
            pb.ImportFileRequest(path="facts.csv"),
            metadata=(
                ("traceparent", TRACEPARENT),
                ("x-adpulse-tenant", "traced"),
                ("authorization", f"Bearer {_key(app)}"),
            ),
            timeout=60,
        )
    with AdpulseClient(app.address, tenant="traced", api_key=_key(app)) as client:
        assert client.wait_operation(started.name, timeout=120).state == "succeeded"
    deadline = time.monotonic() + 30
    while "run adpulse.run_operation" not in _names(exporter.get_finished_spans()):
        assert time.monotonic() < deadline, "the job's span never ended"
        time.sleep(0.05)
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == TRACE_ID]
    call = _one(spans, "adpulse.v1.IngestService/ImportFile")
    sent = [s for s in _children(spans, call) if s.name == "send adpulse.run_operation"]
    assert len(sent) == 1 and sent[0].kind is SpanKind.PRODUCER
    [ran] = [s for s in spans if s.name == "run adpulse.run_operation" and _child_of(s, sent[0])]
    assert ran.kind is SpanKind.CONSUMER
    inside = _names(_children(spans, ran))
    assert "postgres PostgresOperationStore.claim" in inside
    batches = [s for s in spans if s.name == "ingest batch"]
    assert batches, _names(spans)
    assert {"kernel kernel.parse_batch", "clickhouse ClickHouseFactStore.insert"} <= _names(
        [c for b in batches for c in _children(spans, b)]
    )
