// Calls a live server: tests/clients/test_go_and_typescript.py starts one and sets
// ADPULSE_TARGET, ADPULSE_API_KEY and ADPULSE_TENANT (a fresh tenant); without them these skip.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { Code } from "@connectrpc/connect";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { AdpulseClient, AdpulseError, record, textBatch } from "../dist/index.js";
import { Dimension, ExportMetricsRequestSchema } from "../dist/gen/adpulse/v1/analytics_service_pb.js";
import { ExportMetricsResponseSchema } from "../dist/gen/adpulse/v1/operation_pb.js";
import { create } from "@bufbuild/protobuf";

const live = Boolean(process.env.ADPULSE_TARGET && process.env.ADPULSE_TENANT);
const skip = live ? false : "no live server: ADPULSE_TARGET and ADPULSE_TENANT are unset";
const exampleCsv = fileURLToPath(new URL("../../../examples/campaign_export.csv", import.meta.url));

test("ingest a file, then query KPIs page by page", { skip }, async () => {
  const client = new AdpulseClient();
  const first = await client.ingestFile(exampleCsv, { source: "generic" });
  assert.ok(first.accepted > 0 && first.rejected === 0 && first.opened?.runId, `${first.accepted} / ${first.rejected}`);
  const again = await client.ingestFile(exampleCsv, { source: "generic" });
  assert.equal(again.accepted, 0);
  assert.equal(again.duplicates, first.accepted);

  const platforms = [];
  for await (const row of client.metricsRows({ dimensions: [Dimension.PLATFORM], pageSize: 1 })) {
    assert.equal(typeof record(row).cost, "string");
    platforms.push(row.platform);
  }
  assert.ok(platforms.length >= 2, platforms.join());

  let runs = 0;
  for await (const run of client.ingestionRuns({ pageSize: 1 })) {
    assert.ok(run.runId);
    runs++;
  }
  assert.ok(runs >= 2, `${runs} runs`);
});

test("an export is followed to its end", { skip }, async () => {
  const client = new AdpulseClient();
  const op = await client.stubs.analytics.exportMetrics(
    create(ExportMetricsRequestSchema, { startDate: "2026-03-01", endDate: "2026-03-31", dimensions: [Dimension.PLATFORM] }),
  );
  const done = await client.wait(op, 100, AbortSignal.timeout(120_000));
  assert.equal(done.result.case, "response");
  assert.ok(anyUnpack(done.result.value, ExportMetricsResponseSchema));
});

test("a bad request names its field", { skip }, async () => {
  const client = new AdpulseClient();
  const err = await client.stubs.analytics.queryMetrics({ startDate: "2026-02-30" }).catch((e) => e);
  assert.ok(err instanceof AdpulseError, String(err));
  assert.equal(err.code, Code.InvalidArgument);
  assert.ok(
    err.fieldViolations.some((v) => v.field === "start_date" && v.description),
    JSON.stringify(err.fieldViolations),
  );
});

test("rejected rows are named in the ack", { skip }, async () => {
  const client = new AdpulseClient();
  const csv =
    "date,platform,account_id,campaign_id,campaign_name,ad_group_id,ad_id,currency,impressions,clicks,cost,conversions,revenue\n" +
    "2026-04-01,google_ads,a1,c1,Brand,g1,ad1,EUR,many,5,1.00,0,0\n";
  const result = await client.ingest({ source: "generic" }, [textBatch("ts-bad-row", csv)]);
  const errors = result.acks[0].errors;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].field, "impressions");
  assert.equal(errors[0].line, 2n);
});
