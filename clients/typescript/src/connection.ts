// One connection to a server: gRPC over HTTP/2 (Connect's gRPC protocol), the API key and
// tenant on every call, TLS, and retries of what the server says may be retried.
import { readFileSync } from "node:fs";
import { Code, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AccessService } from "./gen/adpulse/v1/access_service_pb.js";
import { AlertService } from "./gen/adpulse/v1/alert_service_pb.js";
import { AnalyticsService } from "./gen/adpulse/v1/analytics_service_pb.js";
import { IngestService } from "./gen/adpulse/v1/ingest_service_pb.js";
import { TenantService } from "./gen/adpulse/v1/tenant_service_pb.js";
import { Operations } from "./gen/google/longrunning/operations_pb.js";
import { AdpulseError } from "./errors.js";

export const DEFAULT_TARGET = "127.0.0.1:50051";
export const TENANT_HEADER = "x-adpulse-tenant";
/** The longest wait a server's RetryInfo may ask for, so a bad one cannot stall a caller. */
const MAX_RETRY_DELAY_MS = 30_000;

export interface TlsOptions {
  /** PEM file of the CA that signed the server's certificate (default: the system's roots). */
  caFile?: string;
  /** For mutual TLS: the client's certificate and key (PEM files). */
  certFile?: string;
  keyFile?: string;
}

export interface ConnectionOptions {
  /** host:port; default $ADPULSE_TARGET, else 127.0.0.1:50051. */
  target?: string;
  /** Default $ADPULSE_API_KEY. */
  apiKey?: string;
  /** The tenant an operator key acts for; default $ADPULSE_TENANT. */
  tenant?: string;
  /** TLS; plaintext without it (the server refuses plaintext off loopback). */
  tls?: TlsOptions;
  /** How often a unary call answered UNAVAILABLE with RetryInfo is tried again (default 3). */
  retries?: number;
}

export interface Stubs {
  ingest: Client<typeof IngestService>;
  analytics: Client<typeof AnalyticsService>;
  tenants: Client<typeof TenantService>;
  access: Client<typeof AccessService>;
  alerts: Client<typeof AlertService>;
  operations: Client<typeof Operations>;
}

function withMetadata(apiKey: string | undefined, tenant: string | undefined): Interceptor {
  return (next) => (req) => {
    if (apiKey && !req.header.has("authorization")) req.header.set("authorization", `Bearer ${apiKey}`);
    if (tenant && !req.header.has(TENANT_HEADER)) req.header.set(TENANT_HEADER, tenant);
    return next(req);
  };
}

/** Without RetryInfo an UNAVAILABLE call may have been applied already, so it is not retried. */
function retryUnavailable(attempts: number): Interceptor {
  return (next) => async (req) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await next(req);
      } catch (reason) {
        const err = AdpulseError.from(reason);
        const delay = err.retryDelayMs;
        if (req.stream || attempt >= attempts || err.code !== Code.Unavailable || delay === undefined) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(delay, MAX_RETRY_DELAY_MS)));
      }
    }
  };
}

export function connect(options: ConnectionOptions = {}): Stubs {
  const target = options.target || process.env.ADPULSE_TARGET || DEFAULT_TARGET;
  const tls = options.tls;
  const transport = createGrpcTransport({
    baseUrl: `${tls ? "https" : "http"}://${target}`,
    interceptors: [
      withMetadata(options.apiKey ?? process.env.ADPULSE_API_KEY, options.tenant ?? process.env.ADPULSE_TENANT),
      retryUnavailable(options.retries ?? 3),
    ],
    nodeOptions: tls
      ? {
          ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
          cert: tls.certFile ? readFileSync(tls.certFile) : undefined,
          key: tls.keyFile ? readFileSync(tls.keyFile) : undefined,
        }
      : undefined,
  });
  return {
    ingest: createClient(IngestService, transport),
    analytics: createClient(AnalyticsService, transport),
    tenants: createClient(TenantService, transport),
    access: createClient(AccessService, transport),
    alerts: createClient(AlertService, transport),
    operations: createClient(Operations, transport),
  };
}
