package adpulse

import (
	"context"
	"iter"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/status"

	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

// pages walks an AIP-158 list call: fetch gets the page of a token and returns its items and
// the next token; iteration stops at the last page, at an error (yielded once), or when the
// consumer stops.
func pages[T any](fetch func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		token := ""
		for {
			items, next, err := fetch(token)
			if err != nil {
				var zero T
				yield(zero, wrap(err))
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}

// MetricsRows yields every row of a QueryMetrics request, page after page.
func (c *Client) MetricsRows(ctx context.Context, req *pb.QueryMetricsRequest) iter.Seq2[*pb.MetricsRow, error] {
	return pages(func(token string) ([]*pb.MetricsRow, string, error) {
		req.PageToken = token
		page, err := c.Analytics.QueryMetrics(ctx, req)
		return page.GetRows(), page.GetNextPageToken(), err
	})
}

// IngestionRuns yields every ingestion run the request selects, newest first.
func (c *Client) IngestionRuns(ctx context.Context, req *pb.ListIngestionRunsRequest) iter.Seq2[*pb.IngestionRun, error] {
	return pages(func(token string) ([]*pb.IngestionRun, string, error) {
		req.PageToken = token
		page, err := c.Ingest.ListIngestionRuns(ctx, req)
		return page.GetRuns(), page.GetNextPageToken(), err
	})
}

// Wait polls a long-running operation every interval until it is done; an operation that
// ended in an error returns it as an *Error.
func (c *Client) Wait(ctx context.Context, op *longrunningpb.Operation, interval time.Duration) (*longrunningpb.Operation, error) {
	for !op.GetDone() {
		select {
		case <-ctx.Done():
			return op, ctx.Err()
		case <-time.After(interval):
		}
		var err error
		if op, err = c.Operations.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: op.GetName()}); err != nil {
			return op, wrap(err)
		}
	}
	if failed := op.GetError(); failed != nil {
		return op, fromStatus(status.FromProto(failed))
	}
	return op, nil
}
