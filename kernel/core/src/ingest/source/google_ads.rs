//! `google_ads/1`: Google Ads API report rows, as GAQL/CSV exports name them
//! (`metrics.cost_micros`) or as REST JSON nests them in camelCase
//! (`{"metrics":{"costMicros":…}}`). Every metric is required: a GAQL query names its fields,
//! so a metric that is not there was renamed or dropped, and reading it as zero would be a lie.
//! Campaign-level and ad-group-level reports lack the lower levels, which take the id of the
//! level above.

use super::options::{option, OptionKey, Unset};
use super::{column, Absent, Read, Source};
use crate::schema::FactField as F;

pub static GOOGLE_ADS: Source = Source {
    name: "google_ads",
    version: 1,
    columns: &[
        column("segments.date", F::Date, Read::Natural),
        column("customer.id", F::AccountId, Read::Natural),
        column("campaign.id", F::CampaignId, Read::Natural),
        column("campaign.name", F::CampaignName, Read::Natural),
        column("ad_group.id", F::AdGroupId, Read::Natural),
        column("ad_group_ad.ad.id", F::AdId, Read::Natural),
        column("customer.currency_code", F::Currency, Read::Natural),
        column("metrics.impressions", F::Impressions, Read::Natural),
        column("metrics.clicks", F::Clicks, Read::Natural),
        column("metrics.cost_micros", F::Cost, Read::Micros),
        column("metrics.conversions", F::Conversions, Read::Natural),
        column("metrics.conversions_value", F::Revenue, Read::Natural),
    ],
    absent: &[
        (F::Platform, Absent::Constant("google_ads")),
        (F::CampaignName, Absent::Empty),
        (F::AdGroupId, Absent::Hierarchy),
        (F::AdId, Absent::Hierarchy),
        (F::Currency, Absent::Option(OptionKey::Currency)),
    ],
    prefixes: &[],
    unread: &[
        "*.resource_name",
        "customer.descriptive_name",
        "ad_group.name",
        "ad_group_ad.ad.name",
    ],
    options: &[option(OptionKey::Currency, Unset::Nothing)],
};
