//! `generic`: the fact row's own column names, plus the spellings generic exports use for money.

use super::{column, Absent, Read, Source};
use crate::schema::FactField as F;

pub static GENERIC: Source = Source {
    name: "generic",
    version: 1,
    columns: &[
        column("date", F::Date, Read::Natural),
        column("platform", F::Platform, Read::Natural),
        column("account_id", F::AccountId, Read::Natural),
        column("campaign_id", F::CampaignId, Read::Natural),
        column("campaign_name", F::CampaignName, Read::Natural),
        column("ad_group_id", F::AdGroupId, Read::Natural),
        column("ad_id", F::AdId, Read::Natural),
        column("currency", F::Currency, Read::Natural),
        column("impressions", F::Impressions, Read::Natural),
        column("clicks", F::Clicks, Read::Natural),
        column("cost", F::Cost, Read::Natural),
        column("conversions", F::Conversions, Read::Natural),
        column("revenue", F::Revenue, Read::Natural),
        column("conversion_value", F::Revenue, Read::Natural),
        column("cost_micros", F::Cost, Read::Micros),
        column("conversions_micros", F::Conversions, Read::Micros),
        column("revenue_micros", F::Revenue, Read::Micros),
    ],
    absent: &[(F::CampaignName, Absent::Empty)],
    prefixes: &[],
    unread: &[],
    options: &[],
};
