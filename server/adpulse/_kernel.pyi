"""Typed surface of the Rust kernel (crates kernel/core and kernel/py).

Every function releases the GIL while it computes. Arrow crosses the boundary zero-copy through
the Arrow PyCapsule interface: table arguments are anything exporting `__arrow_c_stream__`
(pyarrow Table or RecordBatchReader) or `__arrow_c_array__` (pyarrow RecordBatch); results are
pyarrow objects.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import pyarrow as pa

class _ArrowExportable(Protocol):
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

PayloadFormat = Literal["csv", "ndjson", "arrow_ipc", "proto_rows"]
Compression = Literal["none", "gzip"]
ClicksPolicy = Literal["warn", "reject"]

SOURCES: tuple[str, ...]
"""Canonical names of the sources whose layouts `parse_batch` reads: `generic`, `google_ads`,
`meta_ads`, `tiktok_ads`, `linkedin_ads`."""

KPI_COLUMNS: tuple[str, ...]
"""Names of the KPI columns `aggregate` appends: ctr, cpc, cpm, cvr, cpa, roas, roi."""

class PayloadError(ValueError):
    """The payload as a whole cannot be read; no row of it is usable.

    `args == (code, message)`: `code` is one of `UNKNOWN_SOURCE`, `UNKNOWN_FORMAT`,
    `MISSING_COLUMNS`, `DUPLICATE_COLUMNS` (two columns give one field, e.g. `revenue` and
    `conversion_value`, or `cost` and `cost_micros`), `UNSUPPORTED_COLUMN_TYPE` (an Arrow column
    whose type cannot give its field, e.g. float64 `clicks`), `UNREADABLE_PAYLOAD`,
    `UNKNOWN_OPTION` / `INVALID_OPTION` (a source option the source does not know, or a value it
    cannot use), `PAYLOAD_TOO_LARGE` (decompressed data over `max_decompressed_bytes`: a gzip
    bomb is refused, not unpacked) or `DECOMPRESSION_BUSY` (the payloads being read at once would
    unpack to more than the process-wide budget, see `set_decompression_budget`: retry later);
    `message` says what is wrong in plain words (for
    MISSING_COLUMNS it names every missing column, then the input's unknown columns, where a
    renamed one usually is: `missing columns: metrics.cost_micros; unknown columns: metrics.cost`).
    """

class RowError:
    """Why one row of a payload was rejected."""

    @property
    def row(self) -> int:
        """1-based number of the row within the payload (a CSV header is not a row)."""
    @property
    def line(self) -> int:
        """1-based line of the text payload where the row starts (header = line 1); 0 otherwise."""
    @property
    def field(self) -> str:
        """Column (or protobuf field) at fault, as the input named it; "" for the whole row."""
    @property
    def reason(self) -> str:
        """What is wrong, in plain words, quoting the offending value."""

class ParsedBatch:
    """Outcome of `parse_batch`."""

    @property
    def facts(self) -> pa.RecordBatch:
        """Accepted rows in the fact schema (`fact_schema()`), after in-batch key dedup."""
    @property
    def rows_total(self) -> int:
        """Rows in the payload."""
    @property
    def rows_rejected(self) -> int:
        """Rows with at least one error; none of them is in `facts`."""
    @property
    def rows_superseded(self) -> int:
        """Valid rows dropped because a later valid row of the payload has the same key."""
    @property
    def errors(self) -> list[RowError]:
        """The first `max_errors` row errors in row order (a row may have several)."""
    @property
    def errors_truncated(self) -> bool:
        """True when more errors were found than `errors` holds."""
    @property
    def ignored_columns(self) -> list[str]:
        """Input columns the source does not know, in input order (NDJSON: dotted paths of
        nested keys); they were not read. Native columns a source knows and does not need (e.g.
        Google's `*.resourceName`, Meta's `date_stop`) are not listed."""
    @property
    def missing_columns(self) -> list[str]:
        """Optional columns of the source that the input lacks, by their native names; they
        were read as empty (an absent id level takes its nearest level's id, see
        `parse_batch`)."""
    @property
    def warnings(self) -> list[RowError]:
        """The first `max_errors` warnings about rows that were kept (e.g. clicks > impressions)."""
    @property
    def warnings_truncated(self) -> bool:
        """True when more warnings were found than `warnings` holds."""
    @property
    def source_version(self) -> str:
        """The mapping that read the payload, e.g. `google_ads/1` (mappings are versioned)."""

class RequestHeader:
    """What `inspect_request` found in a serialized `adpulse.v1.IngestRequest`."""

    @property
    def kind(self) -> Literal["open", "batch", "empty"]:
        """Which member of the `request` oneof is set."""
    @property
    def batch_id(self) -> str:
        """The batch's id ("" unless `kind == "batch"`)."""
    @property
    def fmt(self) -> PayloadFormat | None:
        """The batch's payload kind; None when the batch has no payload or a text payload has an
        unspecified format."""
    @property
    def compression(self) -> Compression:
        """Compression of a text payload ("none" otherwise)."""
    @property
    def offset(self) -> int:
        """Where the payload bytes start in the request (for `proto_rows`: the RowBatch message)."""
    @property
    def length(self) -> int:
        """How many bytes the payload has."""

def fact_schema() -> pa.Schema:
    """Schema of `ParsedBatch.facts`: date date32; platform, account_id, campaign_id,
    campaign_name, ad_group_id, ad_id, currency utf8; impressions, clicks, cost_micros,
    conversions_micros, revenue_micros int64. No column is nullable."""

def set_decompression_budget(budget_bytes: int) -> None:
    """Bounds the bytes all gzip payloads being read at once (in any thread) unpack to; a
    payload that would pass it fails with DECOMPRESSION_BUSY. Unbounded until set."""

def check_source_options(source: str, options: Mapping[str, str]) -> None:
    """Raises PayloadError (UNKNOWN_SOURCE, UNKNOWN_OPTION, INVALID_OPTION) unless `source`
    exists and takes these options; run once when a stream opens. `options` is any mapping
    with `.items()` (a dict, a protobuf map field). INVALID_OPTION also for a required option
    left out (`linkedin_ads` needs `currency`, and `account_id` or `campaign_groups`)."""

def inspect_request(raw: bytes) -> RequestHeader:
    """Reads the envelope of a serialized `adpulse.v1.IngestRequest` without touching the rows,
    so the server never builds per-row Python objects. Raises PayloadError(UNREADABLE_PAYLOAD)
    when the bytes are not such a message."""

def parse_batch(
    payload: bytes,
    fmt: PayloadFormat,
    source: str = "generic",
    max_errors: int = 1000,
    *,
    offset: int = 0,
    length: int | None = None,
    options: Mapping[str, str] | None = None,
    compression: Compression = "none",
    clicks_over_impressions: ClicksPolicy = "warn",
    max_decompressed_bytes: int = 256 << 20,
    max_line_bytes: int = 1 << 20,
) -> ParsedBatch:
    """Decodes, validates and normalises one batch of rows.

    The payload is `payload[offset:offset + length]` (all of it by default), read in place: the
    server passes the whole serialized request and the slice `inspect_request` found; a slice
    outside `payload` is PayloadError(UNREADABLE_PAYLOAD). The payload is decompressed first
    when `compression` says so, streaming and bounded: past `max_decompressed_bytes` it is
    PAYLOAD_TOO_LARGE. A CSV record or NDJSON line longer than `max_line_bytes` (line end not
    counted) is a row error (field ""), and reading goes on at the next line. A row with more
    clicks than impressions is, under `clicks_over_impressions="reject"`, a row error on the
    clicks column, under "warn" kept and listed in `warnings`. `options` are the source's
    options (see `check_source_options` and SOURCES below). ValueError (not PayloadError) for a
    `compression` or `clicks_over_impressions` outside their literals.

    `fmt` is `csv` (header line + rows, RFC 4180 quoting), `ndjson` (one JSON object a line),
    `arrow_ipc` (one Arrow IPC stream) or `proto_rows` (a serialized `adpulse.v1.RowBatch`). Bad
    rows are reported in `errors` and left out; the good ones are kept, and of good rows with the
    same key (date, platform, account_id, campaign_id, ad_group_id, ad_id) only the last.
    Raises `PayloadError` when the payload as a whole cannot be read.

    Columns (CSV header, NDJSON keys, Arrow field names) match the generic names trimmed and
    case-insensitively (a UTF-8 BOM before the first line is ignored); `conversion_value` is an
    alias of `revenue`, and money may come as whole micros in `cost_micros`,
    `conversions_micros`, `revenue_micros` instead (in any of the three formats). An NDJSON
    line without a measure or `campaign_name` key reads it as null (0, ""); without another key
    its row is rejected ("is missing"); a column that no line has is MISSING_COLUMNS. Blank
    NDJSON/CSV lines are not rows but count as lines. Error `field`s are the input's own names
    (proto: `cost_micros`, `conversions`, `revenue_micros`); `""` for a whole-record problem
    (a CSV record with another number of fields, an NDJSON line that is not a JSON object).

    Platform sources read their platform's native export columns (CSV header names, NDJSON
    keys or Arrow field names). NDJSON nested objects are read as dotted names
    (`{"metrics":{"clicks":"5"}}` is `metrics.clicks`; deeper than 8 levels is a value), and
    every name also matches in camelCase (`metrics.costMicros` is `metrics.cost_micros`). The
    platform is the source's own. Names are matched trimmed and case-insensitively. An absent
    id level (a campaign- or ad-group-level report) takes the id of the nearest level the row
    has, its parent first, and is listed in `missing_columns`. Every mapping is versioned
    (`ParsedBatch.source_version`).

    - `google_ads/1`: `segments.date`, `customer.id`, `campaign.id`, `campaign.name`,
      `ad_group.id`, `ad_group_ad.ad.id`, `customer.currency_code`, `metrics.impressions`,
      `metrics.clicks`, `metrics.cost_micros` (micros), `metrics.conversions`,
      `metrics.conversions_value` (currency units). Every metric is required. Option
      `currency`: used when there is no `customer.currency_code` column.
    - `meta_ads/1`: `date_start`, `account_id`, `campaign_id`, `campaign_name`, `adset_id`
      (ad group), `ad_id`, `account_currency`, `impressions`, `clicks`, `spend` (units),
      `actions` / `action_values`: lists of `{action_type, value}` (a JSON array, or in CSV a
      cell holding one), summed exactly over the option `action_types` (comma-separated,
      default `purchase`) into conversions, and `value_action_types` (default: the same as
      `action_types`) into revenue. The lists are optional (the API leaves them out of rows
      without actions); spend, impressions and clicks are required. Option `currency` as for
      Google.
    - `tiktok_ads/1`: `stat_time_day` (`2026-03-01 00:00:00`), `advertiser_id`,
      `campaign_id`, `campaign_name`, `adgroup_id`, `ad_id`, `currency`, `spend`,
      `impressions`, `clicks`, `conversion`, and revenue from the metric the option
      `value_field` names (default `total_complete_payment_rate`, TikTok's total complete
      payment value). A name may carry a `dimensions.` or `metrics.` prefix (the API's nesting).
      All metrics are required; of the id levels at least one. Options `currency` and
      `account_id` stand in for absent `currency` / `advertiser_id` columns.
    - `linkedin_ads/1`: the day as `dateRange.start.{year,month,day}` or `start_date`;
      `pivotValues` (a JSON list, or URNs separated by commas or spaces):
      `urn:li:sponsoredCampaignGroup:<id>` is the campaign, `urn:li:sponsoredCampaign:<id>`
      the ad group, `urn:li:sponsoredCreative:<id>` the ad (other URNs are ignored; a list
      with none of these is a row error on `pivotValues`); `impressions`, `clicks`,
      `costInLocalCurrency`, `externalWebsiteConversions`,
      `conversionValueInLocalCurrency`, all required. Options: `currency` (required; rows
      carry none), `campaign_groups` (`group=account,…`: the account of each campaign group)
      and `account_id` (the account of rows whose group is not listed or not given); one of
      the two is required.
    """

def aggregate(
    table: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    carry: Sequence[str] = (),
) -> pa.Table:
    """Groups `table` by the `keys` columns and sums its measures, then appends the KPIs.

    Input measures: impressions, clicks, cost_micros, conversions_micros, revenue_micros
    (integer columns, no nulls). Key columns: utf8/large_utf8/utf8_view, dictionary of those,
    date32 or integers. `carry` columns keep the first value seen in each group. When the input
    has a `currency` column that is not a key, each group's currency is tracked: a group with
    more than one currency gets a null currency and null cost_micros, revenue_micros and money
    KPIs. With no keys the result is one row over the whole input (also for an empty input).

    Output, in order: keys, carry, currency (if tracked), impressions, clicks, cost_micros,
    conversions_micros, revenue_micros (int64), then the KPI_COLUMNS (float64, null where the
    denominator is zero or money is mixed). The order of the groups is unspecified, and the
    table may come in several chunks (one per thread). Null key values form a group of their
    own. The empty group of an input without rows (no keys) has null carry and currency.

    Raises ValueError for a missing column, a name given twice, a measure as key or carry,
    `currency` in carry, a measure that is not an integer column or has nulls, or a key column
    of another type; OverflowError when a sum does not fit in an int64. Uses as many threads as
    cores, or `ADPULSE_KERNEL_THREADS` when set.
    """

def _random_update_floor(table: _ArrowExportable | pa.RecordBatch, slots: int) -> tuple[float, list[int]]:
    """Benchmark support only (bench/kernel_kpis.py): adds the five measures of each row of
    `table` into a preallocated array of `slots` slots at the row's uint32 `slot`, in one plain
    loop on one thread; returns the loop's seconds and the five totals."""

METRICS: tuple[str, ...]
"""Names of the metrics the analytics compute: impressions, clicks, cost, conversions, revenue,
ctr, cpc, cpm, cvr, cpa, roas, roi."""

ANOMALY_METHODS: tuple[str, ...]
"""Names of the detection methods: auto, zscore, mad, seasonal, week_over_week."""

Granularity = Literal["day", "week", "month"]

# The analytics read the store's sums: one row per group x date (or date bucket) x currency,
# with the five measures as integer columns (impressions, clicks, cost_micros,
# conversions_micros, revenue_micros), a date32 `date`, key columns of any type `aggregate`
# groups by, and a `currency` column (when it is not a key, a group with several currencies has
# its money metrics undefined). Metric values are in units: money in currency units, not micros.
# Raise ValueError for arguments or tables that do not fit.

def trends_history_start(
    granularity: Granularity, start: dt.date, end: dt.date, moving_average: int = 0
) -> dt.date:
    """The first date `trends` reads for this range: far enough back for the previous period,
    the same buckets a year earlier and the moving average's window."""

def trends(
    table: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    metrics: Sequence[str],
    granularity: Granularity,
    start: dt.date,
    end: dt.date,
    *,
    moving_average: int = 0,
    carry: Sequence[str] = (),
) -> tuple[pa.Table, pa.Table]:
    """Each group's metrics per bucket of [start, end] (buckets are those holding the days:
    days, ISO weeks named by their Monday, months by their first day).

    Returns (points, summaries). `points` has one row per series and bucket: `series` (the
    series' rank), the keys, carry and currency columns, `date` (bucket start), `partial` (the
    bucket reaches outside [start, end]), `money_currency` (the currency of the bucket's money;
    null when its rows mix currencies, its money values and the comparisons reaching into other
    currencies then null too, or it has no rows), then per metric `m`: `m` (gaps: sums 0, ratios null),
    `m_micros` (cost and revenue, exact), `m_moving_average` (trailing `moving_average`
    buckets: sums averaged, ratios of the window's sums), `m_previous` and `m_vs_previous`
    (the previous bucket and the relative change to it), `m_year_ago` and `m_vs_year_ago`
    (364 days back for days and weeks, 12 months for months). A comparison is null where the
    series had no data yet; a relative change is null where its base is 0. `summaries` has one
    row per series: rank, keys, carry, currency, `money_currency` (of the range), and per
    metric the range's value `m`, `m_micros`, `m_previous` (the same number of buckets
    before), `m_vs_previous`,
    `m_year_ago`, `m_vs_year_ago`. Series are ranked by the first metric's total, largest first,
    null last, then by key; `carry` columns come from each group's latest row."""

def detect_anomalies(
    table: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    metric: str,
    start: dt.date,
    end: dt.date,
    *,
    method: str = "auto",
    threshold: float = 4.0,
    change_threshold: float = 0.6,
    cold_start_factor: float = 4.0,
    window: int = 28,
    min_change: float | None = None,
    all_points: bool = False,
    provisional_from: Mapping[str, dt.date] = ...,
    default_provisional_from: dt.date | None = None,
    carry: Sequence[str] = (),
    rate_threshold: float = 0.0,
    corroboration: float = 2.0,
    run_threshold: float = 0.0,
    relative_floor: float = 0.08,
    run_factor: float = 1.0,
) -> tuple[pa.Table, pa.Table]:
    """Judges every day of [start, end] of every group's daily series against its history
    (the rows before `start`, back to the group's first row).

    `method` is one of ANOMALY_METHODS; `threshold` the band's half-width in deviations;
    `change_threshold` the relative change week_over_week flags; `cold_start_factor` the least
    factor (up or down) cold_start flags; `window` the trailing days of
    zscore, mad and the seasonal residuals (at least 7); `min_change` the smallest deviation
    reported (None: 100 impressions, 5 clicks, 2 conversions, 5 money units, 0 for ratios).
    A day is provisional from `provisional_from[platform]` on (groups keyed by platform), else
    from `default_provisional_from` (None: never). The noise-aware methods (auto, seasonal)
    also flag: conversions or revenue whose rate (CVR, revenue per conversion) left its own
    band of `rate_threshold` deviations (0: off) while the metric moved the same way by at
    least `corroboration` deviations; and runs of 2-4 days that all lean one way whose
    combined score Σ score / √days (each day's at most `run_threshold`) is beyond `run_threshold`
    (0: off), each day moved by at least `run_factor` (up or down). Their deviation is never
    under `relative_floor` (on the log scale).

    Returns (points, incidents). `points` (every judged day with `all_points`, else only the
    anomalies), by group then date: keys, carry, currency, `date`, `observed`, `expected`,
    `lower`, `upper`, `score` ((observed − expected) / scale, where the band is ±threshold
    scales), `anomaly`, `direction` (up/down), `severity` (1 low … 4 critical: under 20 %,
    50 %, 90 % from expected, or beyond), `method` (what judged it), `provisional`. Days
    without a value (a ratio's zero denominator) or without enough history have null
    expected. `incidents`: consecutive anomalous days of a group in one direction: keys,
    carry, currency, `start`, `end`, `days`, `observed` and `expected` over the incident
    (sums: their average day; ratios: of its sums), `peak_score` (the strongest evidence of
    its days: a day's score, its rate's, or a run's combined score), `severity` (highest),
    `direction`, `method` (of the peak), `provisional` (any day), and the five measures summed
    over its days."""

class DimensionExplanation:
    """One searched dimension of `explain_change`."""

    @property
    def name(self) -> str:
        """The name the call gave it."""
    @property
    def explanatory_power(self) -> float | None:
        """Share of the change its most surprising slices explain (null: no change)."""
    @property
    def surprise(self) -> float:
        """Summed Jensen–Shannon surprise of those slices."""
    @property
    def slices(self) -> int:
        """How many slices it has."""
    @property
    def contributors(self) -> pa.Table:
        """Its first `limit` contributors: the explaining slices (most surprising first), then
        the others by absolute contribution. Columns: keys, carry, currency,
        `baseline`, `current`, `baseline_weight`, `current_weight`, `contribution`,
        `contribution_micros` (cost, revenue), `share` (of the change), `rate_effect` and
        `mix_effect` (ratios; they add up to the contribution), `surprise`, `status`
        (new/gone/continuing)."""

class Explanation:
    """Outcome of `explain_change`."""

    @property
    def baseline(self) -> float | None: ...
    @property
    def current(self) -> float | None: ...
    @property
    def change(self) -> float | None:
        """current − baseline; null when either is undefined (then no contributions)."""
    @property
    def change_micros(self) -> int | None:
        """The exact change of cost or revenue."""
    @property
    def money_known(self) -> bool:
        """False when the rows' money spans several currencies."""
    @property
    def dimensions(self) -> list[DimensionExplanation]:
        """Ranked: a dimension whose few most surprising slices explain 67 % of the change
        first, by surprise; then the others by explanatory power."""

def explain_change(
    table: _ArrowExportable | pa.RecordBatch,
    dimensions: Sequence[tuple[str, Sequence[str], Sequence[str]]],
    metric: str,
    *,
    limit: int = 10,
) -> Explanation:
    """Splits the change of `metric` from the baseline (rows with `period` 0) to the current
    period (`period` 1) over the slices of each dimension ((name, key columns, carried columns:
    taken from each slice's latest row, e.g. a campaign's name)). An additive
    metric's contribution is the slice's change; a ratio's is its rate effect
    ½(w₀ + w₁)(r₁ − r₀) plus its mix effect (w₁ − w₀)(½(r₀ + r₁) − ½(R₀ + R₁)), with w the
    slice's share of the denominator. Over a dimension's slices the contributions add up to the
    change (exactly in exact arithmetic). Appearing and vanishing slices are all mix."""

def reallocate_budget(
    table: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    *,
    max_shift: float = 0.2,
    min_days: int = 14,
    carry: Sequence[str] = (),
) -> pa.Table:
    """Moves daily spend within each currency from low to high marginal-ROAS groups, at most
    `max_shift` of a group's own spend, total unchanged to the micro. Revenue responds to spend
    as r·(x/c)^b with b fitted per group (log-log, shrunk towards 0.6 by how little spend
    varied, within [0.1, 0.95]). One row per group that spent on `min_days` days or more:
    keys, carry, currency, `spend_per_day_micros`, `revenue_per_day_micros`, `roas`,
    `elasticity`, `marginal_roas`, `marginal_roas_after`, `shift_per_day_micros`,
    `revenue_change_per_day_micros`."""

def budget_pacing(
    spend: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    budgets: _ArrowExportable | pa.RecordBatch,
    month_start: dt.date,
    month_end: dt.date,
    as_of: dt.date,
) -> pa.Table:
    """Pacing of each budget (rows of `budgets`: the `keys` and `budget_micros`) against the
    daily spend: keys, `budget_micros`, `spent_micros` (month start to `as_of`),
    `run_rate_per_day_micros` (last seven days), `projected_micros` (spent + run rate over the
    days left), `days_elapsed`, `days_in_month`, `status`: over (spent more than the budget),
    at_risk (projected over 110 %), under (under 90 %) or on_track."""

def compare_to_parent(
    table: _ArrowExportable | pa.RecordBatch,
    keys: Sequence[str],
    parent_keys: Sequence[str],
    metric: str,
    *,
    carry: Sequence[str] = (),
) -> pa.Table:
    """Each group's CPA or ROAS against its parent group's (e.g. campaign against account):
    keys, carry, currency, the group's cost_micros, conversions_micros, revenue_micros and
    clicks, `value`, `parent_value`, `score` (difference in standard deviations of the group's
    sampling noise, plus 5 % of the parent's value), `excess_micros` (cost beyond the parent's
    CPA for the group's conversions, or revenue short of the parent's ROAS on its cost) and
    `share_of_parent_cost`."""

def debug_panic(message: str) -> None:
    """Panics inside the kernel; exists so tests can prove a panic becomes an INTERNAL status."""
