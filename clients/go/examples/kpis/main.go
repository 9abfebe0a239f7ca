// Command kpis prints KPIs grouped by dimensions, one JSON object per row, exactly as
// `adpulse kpis --by DIM --json` prints its rows. It reads ADPULSE_TARGET, ADPULSE_API_KEY and
// the optional ADPULSE_TENANT.
//
//	go run ./examples/kpis --by platform --from 2026-03-01 --to 2026-03-31
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/adpulse/adpulse/clients/go/adpulse"
	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

type dimensions []pb.Dimension

func (d *dimensions) String() string { return fmt.Sprint(*d) }

func (d *dimensions) Set(name string) error {
	value, ok := pb.Dimension_value["DIMENSION_"+strings.ToUpper(name)]
	if !ok || value == 0 {
		return fmt.Errorf("unknown dimension %q", name)
	}
	*d = append(*d, pb.Dimension(value))
	return nil
}

func main() {
	var by dimensions
	flag.Var(&by, "by", "group by this dimension (repeatable)")
	from := flag.String("from", "", "first date, YYYY-MM-DD")
	to := flag.String("to", "", "last date, YYYY-MM-DD")
	flag.Parse()

	client, err := adpulse.Dial("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kpis:", err)
		os.Exit(1)
	}
	defer client.Close()
	out := json.NewEncoder(os.Stdout)
	req := &pb.QueryMetricsRequest{StartDate: *from, EndDate: *to, Dimensions: by, PageSize: 1000}
	for row, err := range client.MetricsRows(context.Background(), req) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "kpis:", err)
			os.Exit(1)
		}
		if err := out.Encode(adpulse.Record(row)); err != nil {
			fmt.Fprintln(os.Stderr, "kpis:", err)
			os.Exit(1)
		}
	}
}
