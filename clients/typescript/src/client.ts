// The typed client: ingest streams and files, paged queries, long-running operations.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import {
  IngestBatchSchema,
  IngestRequestSchema,
  TextFormat,
  type BatchAck,
  type IngestBatch,
  type StreamOpen,
  type StreamOpened,
  ListIngestionRunsRequestSchema,
  type StreamOpenSchema,
} from "./gen/adpulse/v1/ingest_service_pb.js";
import type { IngestionRun } from "./gen/adpulse/v1/ingestion_run_pb.js";
import { QueryMetricsRequestSchema, type MetricsRow } from "./gen/adpulse/v1/analytics_service_pb.js";
import type { Operation } from "./gen/google/longrunning/operations_pb.js";
import { connect, type ConnectionOptions, type Stubs } from "./connection.js";
import { AdpulseError } from "./errors.js";

/** How much CSV text `ingestFile` puts in one batch. */
export const DEFAULT_BATCH_BYTES = 4 << 20;

export interface IngestResult {
  opened: StreamOpened | undefined;
  acks: BatchAck[];
  accepted: number;
  rejected: number;
  duplicates: number;
}

type StreamOpenInit = MessageInitShape<typeof StreamOpenSchema>;

export class AdpulseClient {
  readonly stubs: Stubs;

  constructor(options: ConnectionOptions = {}) {
    this.stubs = connect(options);
  }

  /** One ingest stream: `open`, then every batch; the acks in order once all are committed. */
  async ingest(open: StreamOpenInit | StreamOpen, batches: Iterable<IngestBatch> | AsyncIterable<IngestBatch>): Promise<IngestResult> {
    async function* requests() {
      yield create(IngestRequestSchema, { request: { case: "open", value: open as StreamOpen } });
      for await (const batch of batches) yield create(IngestRequestSchema, { request: { case: "batch", value: batch } });
    }
    const result: IngestResult = { opened: undefined, acks: [], accepted: 0, rejected: 0, duplicates: 0 };
    try {
      for await (const response of this.stubs.ingest.ingest(requests())) {
        if (response.response.case === "opened") result.opened = response.response.value;
        else if (response.response.case === "ack") {
          const ack = response.response.value;
          result.acks.push(ack);
          result.accepted += Number(ack.accepted);
          result.rejected += Number(ack.rejected);
          result.duplicates += Number(ack.duplicates);
        }
      }
    } catch (reason) {
      throw AdpulseError.from(reason);
    }
    return result;
  }

  /**
   * Streams a CSV file (header line first) in batches of about DEFAULT_BATCH_BYTES, each with
   * the header; batch ids come from the file name and each chunk's content, so ingesting the
   * same file twice stores nothing twice.
   */
  async ingestFile(path: string, open: StreamOpenInit | StreamOpen): Promise<IngestResult> {
    const name = basename(path);
    const chunks = csvChunks(await readFile(path, "utf8"), DEFAULT_BATCH_BYTES);
    return this.ingest(
      open,
      chunks.map((chunk, i) => textBatch(`${name}:${i + 1}:${createHash("sha256").update(chunk).digest("hex").slice(0, 16)}`, chunk)),
    );
  }

  /** Every row of a QueryMetrics request, page after page. */
  metricsRows(request: MessageInitShape<typeof QueryMetricsRequestSchema>): AsyncGenerator<MetricsRow> {
    const req = create(QueryMetricsRequestSchema, request);
    return pages(req, async () => {
      const page = await this.stubs.analytics.queryMetrics(req);
      return [page.rows, page.nextPageToken];
    });
  }

  /** Every ingestion run the request selects, newest first, page after page. */
  ingestionRuns(request: MessageInitShape<typeof ListIngestionRunsRequestSchema> = {}): AsyncGenerator<IngestionRun> {
    const req = create(ListIngestionRunsRequestSchema, request);
    return pages(req, async () => {
      const page = await this.stubs.ingest.listIngestionRuns(req);
      return [page.runs, page.nextPageToken];
    });
  }

  /** Polls a long-running operation until it is done; one that failed throws its error. */
  async wait(operation: Operation, intervalMs = 200, signal?: AbortSignal): Promise<Operation> {
    let op = operation;
    while (!op.done) {
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      op = await this.stubs.operations.getOperation({ name: op.name }, { signal });
    }
    if (op.result.case === "error") {
      const status = op.result.value;
      throw new AdpulseError(new ConnectError(status.message, status.code));
    }
    return op;
  }
}

export function textBatch(batchId: string, csv: string, format: TextFormat = TextFormat.CSV): IngestBatch {
  return create(IngestBatchSchema, {
    batchId,
    payload: { case: "text", value: { format, data: new TextEncoder().encode(csv) } },
  });
}

/** Walks an AIP-158 list call: `fetch` reads the page of `request.pageToken`. */
async function* pages<T>(request: { pageToken: string }, fetch: () => Promise<[T[], string]>): AsyncGenerator<T> {
  do {
    const [items, next] = await fetch();
    yield* items;
    request.pageToken = next;
  } while (request.pageToken);
}

function csvChunks(text: string, limit: number): string[] {
  const [header, ...rows] = text.split(/\r?\n/);
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const row of rows.filter((r) => r !== "")) {
    if (size + row.length > limit && current.length) {
      chunks.push([header, ...current, ""].join("\n"));
      current = [];
      size = 0;
    }
    current.push(row);
    size += row.length + 1;
  }
  if (current.length) chunks.push([header, ...current, ""].join("\n"));
  return chunks;
}
