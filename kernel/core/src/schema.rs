//! The fact schema: the one row layout every source is normalised into.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// A field of the fact row, in the order of the fact schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactField {
    Date,
    Platform,
    AccountId,
    CampaignId,
    CampaignName,
    AdGroupId,
    AdId,
    Currency,
    Impressions,
    Clicks,
    Cost,
    Conversions,
    Revenue,
}

impl FactField {
    pub const ALL: [FactField; 13] = [
        FactField::Date,
        FactField::Platform,
        FactField::AccountId,
        FactField::CampaignId,
        FactField::CampaignName,
        FactField::AdGroupId,
        FactField::AdId,
        FactField::Currency,
        FactField::Impressions,
        FactField::Clicks,
        FactField::Cost,
        FactField::Conversions,
        FactField::Revenue,
    ];

    /// The generic source's column name, used where a reason names the field itself.
    pub fn name(self) -> &'static str {
        match self {
            FactField::Date => "date",
            FactField::Platform => "platform",
            FactField::AccountId => "account_id",
            FactField::CampaignId => "campaign_id",
            FactField::CampaignName => "campaign_name",
            FactField::AdGroupId => "ad_group_id",
            FactField::AdId => "ad_id",
            FactField::Currency => "currency",
            FactField::Impressions => "impressions",
            FactField::Clicks => "clicks",
            FactField::Cost => "cost",
            FactField::Conversions => "conversions",
            FactField::Revenue => "revenue",
        }
    }

    /// Whether a payload must carry the field at all.
    pub fn required(self) -> bool {
        self != FactField::CampaignName
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Fact columns: date, then the text key and descriptive columns, then the measures in micros.
pub fn fact_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let text = |name: &str| Field::new(name, DataType::Utf8, false);
        let int = |name: &str| Field::new(name, DataType::Int64, false);
        Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            text("platform"),
            text("account_id"),
            text("campaign_id"),
            text("campaign_name"),
            text("ad_group_id"),
            text("ad_id"),
            text("currency"),
            int("impressions"),
            int("clicks"),
            int("cost_micros"),
            int("conversions_micros"),
            int("revenue_micros"),
        ]))
    });
    SCHEMA.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_schema_order() {
        let schema = fact_schema();
        for (i, field) in FactField::ALL.iter().enumerate() {
            assert_eq!(field.index(), i);
            let column = schema.field(i).name();
            assert!(
                column.starts_with(field.name()),
                "{column} vs {}",
                field.name()
            );
        }
        assert!(schema.fields().iter().all(|f| !f.is_nullable()));
    }
}
