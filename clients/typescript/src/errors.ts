// AIP-193 errors: the status code, ErrorInfo, BadRequest field violations and RetryInfo,
// unpacked from a ConnectError. The google.rpc detail messages are decoded by hand: they are
// three small, frozen messages, and generating them would put google/rpc code into every client.
import { ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

const BRAND = Symbol.for("adpulse.AdpulseError");

/**
 * A failed call. It is a ConnectError (code, rawMessage, metadata, details as Connect has them),
 * so Connect passes it through interceptors unchanged, with the details unpacked.
 */
export class AdpulseError extends ConnectError {
  // ConnectError's instanceof accepts any ConnectError (it is made for several copies of the
  // library in one program), so this class tells its own instances by a brand.
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && BRAND in value;
  }

  readonly [BRAND] = true;
  /** ErrorInfo's reason and metadata. */
  readonly reason: string = "";
  readonly errorMetadata: Record<string, string> = {};
  readonly fieldViolations: FieldViolation[] = [];
  /** Set when the server said the call may be retried after this many milliseconds. */
  readonly retryDelayMs: number | undefined;

  constructor(source: ConnectError) {
    super(source.rawMessage, source.code, source.metadata, undefined, source.cause);
    // name stays "ConnectError": Connect recognises its errors by it and would wrap this one.
    this.details = source.details;
    for (const detail of source.details) {
      if (!("type" in detail)) continue; // an outgoing detail: this side made the error
      if (detail.type === "google.rpc.ErrorInfo") ({ reason: this.reason, metadata: this.errorMetadata } = errorInfo(detail.value));
      if (detail.type === "google.rpc.BadRequest") this.fieldViolations = badRequest(detail.value);
      if (detail.type === "google.rpc.RetryInfo") this.retryDelayMs = retryDelay(detail.value);
    }
  }

  static from(reason: unknown): AdpulseError {
    return reason instanceof AdpulseError ? reason : new AdpulseError(ConnectError.from(reason));
  }
}

/** Calls `onField(fieldNumber, reader)` for each field; fields it leaves unread are skipped. */
function fields(bytes: Uint8Array, onField: (no: number, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    if (!onField(no, reader)) reader.skip(wireType as WireType, no);
  }
}

function strings(bytes: Uint8Array, names: Record<number, string>): Record<string, string> {
  const out: Record<string, string> = {};
  fields(bytes, (no, reader) => {
    if (!(no in names)) return false;
    out[names[no]] = reader.string();
    return true;
  });
  return out;
}

function errorInfo(bytes: Uint8Array): { reason: string; metadata: Record<string, string> } {
  const out = { reason: "", metadata: {} as Record<string, string> };
  fields(bytes, (no, reader) => {
    if (no === 1) out.reason = reader.string();
    else if (no === 3) {
      const entry = strings(reader.bytes(), { 1: "key", 2: "value" });
      out.metadata[entry.key ?? ""] = entry.value ?? "";
    } else return false;
    return true;
  });
  return out;
}

function badRequest(bytes: Uint8Array): FieldViolation[] {
  const out: FieldViolation[] = [];
  fields(bytes, (no, reader) => {
    if (no !== 1) return false;
    const v = strings(reader.bytes(), { 1: "field", 2: "description", 3: "reason" });
    out.push({ field: v.field ?? "", description: v.description ?? "", reason: v.reason ?? "" });
    return true;
  });
  return out;
}

function retryDelay(bytes: Uint8Array): number {
  let ms = 0;
  fields(bytes, (no, reader) => {
    if (no !== 1) return false;
    fields(reader.bytes(), (part, duration) => {
      if (part === 1) ms += Number(duration.int64()) * 1000;
      else if (part === 2) ms += duration.int32() / 1e6;
      else return false;
      return true;
    });
    return true;
  });
  return ms;
}
