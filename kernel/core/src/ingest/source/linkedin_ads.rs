//! `linkedin_ads/1`: LinkedIn Marketing API ad analytics rows. LinkedIn's hierarchy is account
//! → campaign group → campaign → creative; the fact row's is account → campaign → ad group →
//! ad, so a campaign group is the campaign, a LinkedIn campaign the ad group and a creative
//! the ad. Rows name them only as URNs in `pivotValues` (`urn:li:sponsoredCampaign:123`); a
//! level the pivots leave out takes the id of the nearest level given, its parent first.
//! Rows carry neither currency nor account: the option `currency` is required, and the account
//! is the one `campaign_groups` gives the row's campaign group, else the option `account_id`.
//! JSON writes the day as `dateRange.start.{year,month,day}`, CSV as `start_date`.

use super::options::{option, OptionKey, Unset};
use super::{column, Absent, DatePart, Read, Source};
use crate::schema::FactField as F;

pub static LINKEDIN_ADS: Source = Source {
    name: "linkedin_ads",
    version: 1,
    columns: &[
        column("start_date", F::Date, Read::Natural),
        column(
            "dateRange.start.year",
            F::Date,
            Read::DatePart(DatePart::Year),
        ),
        column(
            "dateRange.start.month",
            F::Date,
            Read::DatePart(DatePart::Month),
        ),
        column(
            "dateRange.start.day",
            F::Date,
            Read::DatePart(DatePart::Day),
        ),
        column("pivotValues", F::CampaignId, Read::Pivots),
        column("impressions", F::Impressions, Read::Natural),
        column("clicks", F::Clicks, Read::Natural),
        column("costInLocalCurrency", F::Cost, Read::Natural),
        column("externalWebsiteConversions", F::Conversions, Read::Natural),
        column("conversionValueInLocalCurrency", F::Revenue, Read::Natural),
    ],
    absent: &[
        (F::Platform, Absent::Constant("linkedin_ads")),
        (F::AccountId, Absent::GroupAccount),
        (F::CampaignId, Absent::Hierarchy),
        (F::CampaignName, Absent::Empty),
        (F::AdGroupId, Absent::Hierarchy),
        (F::AdId, Absent::Hierarchy),
        (F::Currency, Absent::Option(OptionKey::Currency)),
    ],
    prefixes: &[],
    unread: &[
        "date_range.end.year",
        "date_range.end.month",
        "date_range.end.day",
        "end_date",
        "pivot",
        "pivot_value",
    ],
    options: &[
        option(OptionKey::Currency, Unset::Refuse),
        option(OptionKey::AccountId, Unset::Nothing),
        option(OptionKey::CampaignGroups, Unset::Nothing),
    ],
};
