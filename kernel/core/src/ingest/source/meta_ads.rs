//! `meta_ads/1`: Meta (Facebook) Marketing API insights rows. Conversions and revenue are the
//! `actions` / `action_values` lists summed over the action types the options name; the API
//! leaves both lists out of a row (and so of a whole report) that has no actions, so they are
//! optional, reported as missing columns when absent. Spend, impressions and clicks are always
//! there and required. CSV exports carry each list as a JSON-encoded cell.

use super::options::{option, OptionKey, Unset};
use super::{column, Absent, Read, Source};
use crate::schema::FactField as F;

pub static META_ADS: Source = Source {
    name: "meta_ads",
    version: 1,
    columns: &[
        column("date_start", F::Date, Read::Natural),
        column("account_id", F::AccountId, Read::Natural),
        column("campaign_id", F::CampaignId, Read::Natural),
        column("campaign_name", F::CampaignName, Read::Natural),
        column("adset_id", F::AdGroupId, Read::Natural),
        column("ad_id", F::AdId, Read::Natural),
        column("account_currency", F::Currency, Read::Natural),
        column("impressions", F::Impressions, Read::Natural),
        column("clicks", F::Clicks, Read::Natural),
        column("spend", F::Cost, Read::Natural),
        column(
            "actions",
            F::Conversions,
            Read::Actions(OptionKey::ActionTypes),
        ),
        column(
            "action_values",
            F::Revenue,
            Read::Actions(OptionKey::ValueActionTypes),
        ),
    ],
    absent: &[
        (F::Platform, Absent::Constant("meta_ads")),
        (F::CampaignName, Absent::Empty),
        (F::AdGroupId, Absent::Hierarchy),
        (F::AdId, Absent::Hierarchy),
        (F::Currency, Absent::Option(OptionKey::Currency)),
        (F::Conversions, Absent::Empty),
        (F::Revenue, Absent::Empty),
    ],
    prefixes: &[],
    unread: &["date_stop", "account_name", "adset_name", "ad_name"],
    options: &[
        option(OptionKey::ActionTypes, Unset::Default("purchase")),
        option(
            OptionKey::ValueActionTypes,
            Unset::SameAs(OptionKey::ActionTypes),
        ),
        option(OptionKey::Currency, Unset::Nothing),
    ],
};
