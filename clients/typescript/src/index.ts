export { AdpulseClient, DEFAULT_BATCH_BYTES, textBatch, type IngestResult } from "./client.js";
export { connect, DEFAULT_TARGET, TENANT_HEADER, type ConnectionOptions, type Stubs, type TlsOptions } from "./connection.js";
export { AdpulseError, type FieldViolation } from "./errors.js";
export { formatMicros, KPIS, record, type RecordValue } from "./records.js";
