//! `tiktok_ads/1`: TikTok Business API integrated-report rows. The API nests them as
//! `{"dimensions":{…},"metrics":{…}}` and writes every metric as a string; a flattened
//! `metrics.spend` and a plain `spend` are the same column. Revenue is the metric the option
//! `value_field` names (default `total_complete_payment_rate`, TikTok's "total complete
//! payment value"). All metrics are required; a report at campaign or ad group level lacks the
//! lower levels, which take the id of the level above (and an ad-level report without parent
//! ids gives every level the ad's id).

use super::options::{option, OptionKey, Unset};
use super::{column, Absent, Binding, ColumnSpec, Name, Read, Source};
use crate::schema::FactField as F;

pub static TIKTOK_ADS: Source = Source {
    name: "tiktok_ads",
    version: 1,
    columns: &[
        column("stat_time_day", F::Date, Read::DateTime),
        column("advertiser_id", F::AccountId, Read::Natural),
        column("campaign_id", F::CampaignId, Read::Natural),
        column("campaign_name", F::CampaignName, Read::Natural),
        column("adgroup_id", F::AdGroupId, Read::Natural),
        column("ad_id", F::AdId, Read::Natural),
        column("currency", F::Currency, Read::Natural),
        column("impressions", F::Impressions, Read::Natural),
        column("clicks", F::Clicks, Read::Natural),
        column("spend", F::Cost, Read::Natural),
        column("conversion", F::Conversions, Read::Natural),
        ColumnSpec {
            name: Name::Option(OptionKey::ValueField),
            binding: Binding::new(F::Revenue, Read::Natural),
        },
    ],
    absent: &[
        (F::Platform, Absent::Constant("tiktok_ads")),
        (F::AccountId, Absent::Option(OptionKey::AccountId)),
        (F::CampaignId, Absent::Hierarchy),
        (F::CampaignName, Absent::Empty),
        (F::AdGroupId, Absent::Hierarchy),
        (F::AdId, Absent::Hierarchy),
        (F::Currency, Absent::Option(OptionKey::Currency)),
    ],
    prefixes: &["dimensions.", "metrics."],
    unread: &[
        "adgroup_name",
        "ad_name",
        "advertiser_name",
        "stat_time_hour",
    ],
    options: &[
        option(
            OptionKey::ValueField,
            Unset::Default("total_complete_payment_rate"),
        ),
        option(OptionKey::Currency, Unset::Nothing),
        option(OptionKey::AccountId, Unset::Nothing),
    ],
};
