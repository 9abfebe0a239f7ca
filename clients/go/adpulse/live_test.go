package adpulse_test

// These tests call a live server: tests/clients/test_go_and_typescript.py starts one and sets
// ADPULSE_TARGET, ADPULSE_API_KEY and ADPULSE_TENANT (a fresh tenant); without them they skip.

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/adpulse/adpulse/clients/go/adpulse"
	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

func dial(t *testing.T) *adpulse.Client {
	t.Helper()
	if os.Getenv("ADPULSE_TARGET") == "" || os.Getenv("ADPULSE_TENANT") == "" {
		t.Skip("no live server: ADPULSE_TARGET and ADPULSE_TENANT are unset")
	}
	client, err := adpulse.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func exampleCSV(t *testing.T) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..", "examples", "campaign_export.csv")
}

func TestIngestFileThenQueryKPIs(t *testing.T) {
	client, ctx := dial(t), context.Background()
	open := &pb.StreamOpen{Source: "generic"}

	first, err := client.IngestFile(ctx, exampleCSV(t), open)
	if err != nil {
		t.Fatal(err)
	}
	accepted, rejected, _ := first.Totals()
	if accepted == 0 || rejected != 0 || first.Opened.GetRunId() == "" {
		t.Fatalf("first ingest: accepted %d rejected %d run %q", accepted, rejected, first.Opened.GetRunId())
	}
	again, err := client.IngestFile(ctx, exampleCSV(t), open)
	if err != nil {
		t.Fatal(err)
	}
	if a, _, dup := again.Totals(); a != 0 || dup != accepted {
		t.Fatalf("second ingest stored %d, %d duplicates (want 0, %d)", a, dup, accepted)
	}

	req := &pb.QueryMetricsRequest{Dimensions: []pb.Dimension{pb.Dimension_DIMENSION_PLATFORM}, PageSize: 1}
	var platforms []string
	var impressions int64
	for row, err := range client.MetricsRows(ctx, req) {
		if err != nil {
			t.Fatal(err)
		}
		record := adpulse.Record(row)
		if _, ok := record["cost"].(string); !ok {
			t.Fatalf("cost is not a decimal string: %#v", record)
		}
		platforms = append(platforms, row.GetPlatform())
		impressions += row.GetMetrics().GetImpressions()
	}
	if len(platforms) < 2 || impressions == 0 {
		t.Fatalf("page by page (size 1): platforms %v, impressions %d", platforms, impressions)
	}

	runs := 0
	for run, err := range client.IngestionRuns(ctx, &pb.ListIngestionRunsRequest{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if run.GetRunId() == "" {
			t.Fatalf("run without id: %v", run)
		}
		runs++
	}
	if runs < 2 {
		t.Fatalf("%d runs listed, want at least the 2 streams", runs)
	}
}

func TestExportIsFollowedToItsEnd(t *testing.T) {
	client, ctx := dial(t), context.Background()
	op, err := client.Analytics.ExportMetrics(ctx, &pb.ExportMetricsRequest{
		StartDate: "2026-03-01", EndDate: "2026-03-31",
		Dimensions: []pb.Dimension{pb.Dimension_DIMENSION_PLATFORM},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	done, err := client.Wait(ctx, op, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var response pb.ExportMetricsResponse
	if err := done.GetResponse().UnmarshalTo(&response); err != nil {
		t.Fatal(err)
	}
}

func TestBadRequestNamesTheField(t *testing.T) {
	client, ctx := dial(t), context.Background()
	_, err := client.Analytics.QueryMetrics(ctx, &pb.QueryMetricsRequest{StartDate: "2026-02-30"})
	typed, ok := adpulse.AsError(err)
	if !ok || typed.Code != codes.InvalidArgument {
		t.Fatalf("want INVALID_ARGUMENT, got %v", err)
	}
	for _, v := range typed.FieldViolations {
		if v.Field == "start_date" && strings.TrimSpace(v.Description) != "" {
			return
		}
	}
	t.Fatalf("no violation of start_date in %+v", typed.FieldViolations)
}

func TestRejectedRowsAreNamedInTheAck(t *testing.T) {
	client, ctx := dial(t), context.Background()
	csv := "date,platform,account_id,campaign_id,campaign_name,ad_group_id,ad_id,currency,impressions,clicks,cost,conversions,revenue\n" +
		"2026-04-01,google_ads,a1,c1,Brand,g1,ad1,EUR,many,5,1.00,0,0\n"
	result, err := client.IngestStream(ctx, &pb.StreamOpen{Source: "generic"}, func(yield func(*pb.IngestBatch) bool) {
		yield(adpulse.TextBatch("go-bad-row", pb.TextFormat_TEXT_FORMAT_CSV, []byte(csv)))
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := result.Acks[0].GetErrors()
	if len(errs) != 1 || errs[0].GetField() != "impressions" || errs[0].GetLine() != 2 {
		t.Fatalf("row errors %v", errs)
	}
}
