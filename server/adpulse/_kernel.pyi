"""Typed surface of the Rust kernel (crates kernel/core and kernel/py).

Every function releases the GIL while it computes. Arrow crosses the boundary zero-copy through
the Arrow PyCapsule interface: table arguments are anything exporting `__arrow_c_stream__`
(pyarrow Table or RecordBatchReader) or `__arrow_c_array__` (pyarrow RecordBatch); results are
pyarrow objects.
"""

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
    cannot use) or `PAYLOAD_TOO_LARGE` (decompressed data over `max_decompressed_bytes`: a gzip
    bomb is refused, not unpacked); `message` says what is wrong in plain words (for
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
    max_decompressed_bytes: int = 1 << 30,
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

def debug_panic(message: str) -> None:
    """Panics inside the kernel; exists so tests can prove a panic becomes an INTERNAL status."""
