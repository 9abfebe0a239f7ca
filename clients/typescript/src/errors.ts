// AIP-193 errors: the status code, ErrorInfo, BadRequest field violations and RetryInfo,
// unpacked from a ConnectError. The google.rpc detail messages are decoded by hand: they are
// three small, frozen messages, and generating them would put google/rpc code into every client.
import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export interface FieldViolation {
  field: string;
  description: string;
  reason: string;
}

export class AdpulseError extends Error {
  constructor(
    readonly code: Code,
    readonly rawMessage: string,
    readonly reason: string,
    readonly metadata: Record<string, string>,
    readonly fieldViolations: FieldViolation[],
    /** Set when the server said the call may be retried after this many milliseconds. */
    readonly retryDelayMs: number | undefined,
  ) {
    super(`${Code[code]}: ${rawMessage}`);
    this.name = "AdpulseError";
  }

  static from(reason: unknown): AdpulseError {
    if (reason instanceof AdpulseError) return reason;
    const err = ConnectError.from(reason);
    let info = { reason: "", metadata: {} as Record<string, string> };
    let violations: FieldViolation[] = [];
    let retryDelayMs: number | undefined;
    for (const detail of err.details) {
      if (!("type" in detail)) continue; // an outgoing detail: this side made the error
      if (detail.type === "google.rpc.ErrorInfo") info = errorInfo(detail.value);
      if (detail.type === "google.rpc.BadRequest") violations = badRequest(detail.value);
      if (detail.type === "google.rpc.RetryInfo") retryDelayMs = retryDelay(detail.value);
    }
    return new AdpulseError(err.code, err.rawMessage, info.reason, info.metadata, violations, retryDelayMs);
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
