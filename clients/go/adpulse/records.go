package adpulse

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/wrapperspb"

	pb "github.com/adpulse/adpulse/clients/go/gen/adpulse/v1"
)

// KPIs are the ratios every metrics row carries, in the order the CLI shows them.
var KPIs = []string{"ctr", "cpc", "cpm", "cvr", "cpa", "roas", "roi"}

// FormatMicros writes an exact amount of micros in currency units, as `adpulse --json` does:
// at least two decimals, at most six, no trailing zeros past the second ("12.50", "0.125").
func FormatMicros(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	fraction := strings.TrimRight(fmt.Sprintf("%06d", micros%1_000_000), "0")
	for len(fraction) < 2 {
		fraction += "0"
	}
	return fmt.Sprintf("%s%d.%s", sign, micros/1_000_000, fraction)
}

// Record is a metrics row as `adpulse kpis --json` prints it: the dimensions the row carries
// (a campaign with its name), the currency, counts as integers, money as decimal strings,
// conversions and KPIs as numbers, and null for what is undefined.
func Record(row *pb.MetricsRow) map[string]any {
	out := map[string]any{}
	for name, value := range map[string]string{
		"date": row.GetDate(), "platform": row.GetPlatform(), "account": row.GetAccountId(),
		"campaign": row.GetCampaignId(), "ad_group": row.GetAdGroupId(), "ad": row.GetAdId(),
	} {
		if value != "" {
			out[name] = value
		}
	}
	if row.GetCampaignId() != "" {
		out["campaign_name"] = row.GetCampaignName()
	}
	m := row.GetMetrics()
	out["currency"] = nullable(row.GetCurrency(), row.GetCurrency() != "")
	out["impressions"] = m.GetImpressions()
	out["clicks"] = m.GetClicks()
	out["cost"] = money(m.GetCostMicros())
	out["conversions"] = m.GetConversions()
	out["revenue"] = money(m.GetRevenueMicros())
	for name, value := range map[string]*wrapperspb.DoubleValue{
		"ctr": m.GetCtr(), "cpc": m.GetCpc(), "cpm": m.GetCpm(), "cvr": m.GetCvr(),
		"cpa": m.GetCpa(), "roas": m.GetRoas(), "roi": m.GetRoi(),
	} {
		out[name] = nullable(value.GetValue(), value != nil)
	}
	return out
}

func money(micros *wrapperspb.Int64Value) any {
	return nullable(FormatMicros(micros.GetValue()), micros != nil)
}

func nullable[T any](value T, set bool) any {
	if !set {
		return nil
	}
	return value
}
