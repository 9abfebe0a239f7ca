// Prints KPIs grouped by dimensions, one JSON object per row, exactly as
// `adpulse kpis --by DIM --json` prints its rows. Reads ADPULSE_TARGET, ADPULSE_API_KEY and the
// optional ADPULSE_TENANT. Build first (`npm run build`), then:
//
//   node examples/kpis.mjs --by platform --from 2026-03-01 --to 2026-03-31
import { parseArgs } from "node:util";
import { AdpulseClient, record } from "../dist/index.js";
import { Dimension } from "../dist/gen/adpulse/v1/analytics_service_pb.js";

const { values } = parseArgs({
  options: { by: { type: "string", multiple: true, default: [] }, from: { type: "string", default: "" }, to: { type: "string", default: "" } },
});
const dimensions = values.by.map((name) => {
  const value = Dimension[name.toUpperCase()];
  if (!value) throw new Error(`unknown dimension ${name}`);
  return value;
});
const client = new AdpulseClient();
for await (const row of client.metricsRows({ startDate: values.from, endDate: values.to, dimensions, pageSize: 1000 })) {
  console.log(JSON.stringify(record(row)));
}
