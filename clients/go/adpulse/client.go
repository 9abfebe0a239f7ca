// Package adpulse is a thin typed client of the adpulse gRPC API: it dials with the API key and
// TLS, retries what the server says may be retried, pages through list calls and follows
// long-running operations. The generated stubs stay available as the Client's fields.
package adpulse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

// DefaultTarget is where a local `make run` serves.
const DefaultTarget = "127.0.0.1:50051"

// TenantHeader names the tenant an operator key acts for.
const TenantHeader = "x-adpulse-tenant"

// Client holds one connection and the stubs of every adpulse service.
type Client struct {
	conn       *grpc.ClientConn
	Ingest     pb.IngestServiceClient
	Analytics  pb.AnalyticsServiceClient
	Tenants    pb.TenantServiceClient
	Access     pb.AccessServiceClient
	Alerts     pb.AlertServiceClient
	Operations longrunningpb.OperationsClient
}

type config struct {
	apiKey   string
	tenant   string
	tls      *tls.Config
	retries  int
	dialOpts []grpc.DialOption
}

// Option configures Dial.
type Option func(*config) error

// WithAPIKey sends the key as `authorization: Bearer <key>` on every call (default: $ADPULSE_API_KEY).
func WithAPIKey(key string) Option { return func(c *config) error { c.apiKey = key; return nil } }

// WithTenant names the tenant an operator key acts for (default: $ADPULSE_TENANT).
func WithTenant(tenant string) Option { return func(c *config) error { c.tenant = tenant; return nil } }

// WithTLS speaks TLS, trusting the PEM CA file (empty: the system's roots); with a client
// certificate and key it is mutual TLS.
func WithTLS(caFile, certFile, keyFile string) Option {
	return func(c *config) error {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return err
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("adpulse: no certificate in %s", caFile)
			}
		}
		if (certFile == "") != (keyFile == "") {
			return fmt.Errorf("adpulse: a client certificate needs its key, and a key its certificate")
		}
		if certFile != "" {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return err
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		c.tls = cfg
		return nil
	}
}

// WithRetries sets how many times a call answered UNAVAILABLE with RetryInfo is tried again
// (default 3; 0 turns retries off).
func WithRetries(n int) Option { return func(c *config) error { c.retries = n; return nil } }

// WithDialOptions passes options through to grpc.NewClient.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) error { c.dialOpts = append(c.dialOpts, opts...); return nil }
}

// Dial connects to target (empty: $ADPULSE_TARGET, else DefaultTarget). Plaintext is used
// only when no TLS option is given; the server itself refuses plaintext off loopback.
func Dial(target string, opts ...Option) (*Client, error) {
	cfg := config{apiKey: os.Getenv("ADPULSE_API_KEY"), tenant: os.Getenv("ADPULSE_TENANT"), retries: 3}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if target == "" {
		target = os.Getenv("ADPULSE_TARGET")
	}
	if target == "" {
		target = DefaultTarget
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		if host, _, err := net.SplitHostPort(target); err == nil && cfg.tls.ServerName == "" {
			cfg.tls.ServerName = host
		}
		creds = credentials.NewTLS(cfg.tls)
	}
	md := callMetadata(cfg.apiKey, cfg.tenant)
	dialOpts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(withMetadata(md), retryUnavailable(cfg.retries)),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
			method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(metadata.NewOutgoingContext(ctx, joined(ctx, md)), desc, cc, method, opts...)
		}),
	}, cfg.dialOpts...)
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, err
	}
	return &Client{
		conn:       conn,
		Ingest:     pb.NewIngestServiceClient(conn),
		Analytics:  pb.NewAnalyticsServiceClient(conn),
		Tenants:    pb.NewTenantServiceClient(conn),
		Access:     pb.NewAccessServiceClient(conn),
		Alerts:     pb.NewAlertServiceClient(conn),
		Operations: longrunningpb.NewOperationsClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func callMetadata(apiKey, tenant string) metadata.MD {
	md := metadata.MD{}
	if apiKey != "" {
		md.Set("authorization", "Bearer "+apiKey)
	}
	if tenant != "" {
		md.Set(TenantHeader, tenant)
	}
	return md
}

// joined adds md to what the caller's context already carries; the caller's values win.
func joined(ctx context.Context, md metadata.MD) metadata.MD {
	out, _ := metadata.FromOutgoingContext(ctx)
	out = out.Copy()
	for k, v := range md {
		if len(out.Get(k)) == 0 {
			out.Set(k, v...)
		}
	}
	return out
}

func withMetadata(md metadata.MD) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.NewOutgoingContext(ctx, joined(ctx, md)), method, req, reply, cc, opts...)
	}
}
