// Metrics rows as `adpulse kpis --json` prints them.
import type { MetricsRow } from "./gen/adpulse/v1/analytics_service_pb.js";

export const KPIS = ["ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi"] as const;

/** Exact micros in currency units: at least two decimals, at most six ("12.50", "0.125"). */
export function formatMicros(micros: bigint): string {
  const sign = micros < 0n ? "-" : "";
  const abs = micros < 0n ? -micros : micros;
  let fraction = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  fraction = fraction.padEnd(2, "0");
  return `${sign}${abs / 1_000_000n}.${fraction}`;
}

export type RecordValue = string | number | null;

/**
 * The dimensions the row carries (a campaign with its name), the currency, counts as numbers,
 * money as decimal strings, conversions and KPIs as numbers, null for what is undefined.
 */
export function record(row: MetricsRow): Record<string, RecordValue> {
  const out: Record<string, RecordValue> = {};
  const dims: [string, string][] = [
    ["date", row.date],
    ["platform", row.platform],
    ["account", row.accountId],
    ["campaign", row.campaignId],
    ["ad_group", row.adGroupId],
    ["ad", row.adId],
  ];
  for (const [name, value] of dims) if (value) out[name] = value;
  if (row.campaignId) out.campaign_name = row.campaignName;
  const m = row.metrics;
  out.currency = row.currency || null;
  out.impressions = Number(m?.impressions ?? 0n);
  out.clicks = Number(m?.clicks ?? 0n);
  out.cost = m?.costMicros === undefined ? null : formatMicros(m.costMicros);
  out.conversions = m?.conversions ?? 0;
  out.revenue = m?.revenueMicros === undefined ? null : formatMicros(m.revenueMicros);
  for (const kpi of KPIS) out[kpi] = m?.[kpi] ?? null;
  return out;
}
