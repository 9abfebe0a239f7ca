use super::*;

fn natural(field: FactField) -> Binding {
    Binding {
        field,
        read: Read::Natural,
    }
}

fn set(draft: &mut Draft, field: FactField, cell: Cell<'_>) -> Result<(), Problem> {
    draft.set(natural(field), &cell, &Options::default())
}

#[test]
fn ids_are_trimmed_and_checked() {
    let mut d = Draft::default();
    assert_eq!(
        set(&mut d, FactField::AccountId, Cell::Text(b"  acc-1 \t")),
        Ok(())
    );
    assert_eq!(d.text[0], "acc-1");
    assert_eq!(set(&mut d, FactField::AdId, Cell::Int(42)), Ok(()));
    assert_eq!(d.text[4], "42");
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text(b"  ")),
        Err(Problem::Empty)
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Null),
        Err(Problem::Empty)
    );
    // A bad value is a value given: the row is refused for it, not also for lacking it.
    assert!(d.given(FactField::AdId.index()));
    d.reset();
    assert!(!d.given(FactField::AdId.index()));
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text(b"a\x07b")),
        Err(Problem::ControlCharacter)
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text("a\u{85}b".as_bytes())),
        Err(Problem::ControlCharacter)
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text(b"\xff")),
        Err(Problem::NotUtf8)
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text(&[b'x'; 256])),
        Ok(())
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::Text(&[b'x'; 257])),
        Err(Problem::TooLong { max: 256 })
    );
    assert_eq!(
        set(&mut d, FactField::AdId, Cell::F64(1.0)),
        Err(Problem::WrongType { expected: "text" })
    );
}

#[test]
fn campaign_names_may_be_empty_or_absent() {
    let mut d = Draft::default();
    assert_eq!(
        set(
            &mut d,
            FactField::CampaignName,
            Cell::Text(b" Spring\nsale ")
        ),
        Ok(())
    );
    assert_eq!(d.text[2], "Spring\nsale");
    for bad in [&b"a\0b"[..], b"\x1b[31m", b"x\x7f"] {
        assert_eq!(
            set(&mut d, FactField::CampaignName, Cell::Text(bad)),
            Err(Problem::ControlCharacter)
        );
    }
    d.reset();
    assert_eq!(d.text[2], "");
    assert_eq!(set(&mut d, FactField::CampaignName, Cell::Null), Ok(()));
    assert_eq!(
        set(&mut d, FactField::CampaignName, Cell::Text(&[b'n'; 1025])),
        Err(Problem::TooLong { max: 1024 })
    );
}

#[test]
fn dates_platforms_and_currencies() {
    let mut d = Draft::default();
    assert_eq!(
        set(&mut d, FactField::Date, Cell::Text(b"2026-11-22")),
        Ok(())
    );
    assert_eq!(d.date, 20_779);
    assert_eq!(set(&mut d, FactField::Date, Cell::Day(20_000)), Ok(()));
    assert_eq!(d.date, 20_000);
    assert_eq!(
        set(&mut d, FactField::Date, Cell::Day(0)),
        Err(Problem::DateOutOfRange)
    );
    assert_eq!(
        set(&mut d, FactField::Date, Cell::Null),
        Err(Problem::NotADate)
    );
    assert_eq!(
        set(&mut d, FactField::Platform, Cell::Text(b"Facebook")),
        Ok(())
    );
    assert_eq!(d.platform.name(), "meta_ads");
    assert_eq!(set(&mut d, FactField::Currency, Cell::Text(b"chf")), Ok(()));
    assert_eq!(d.currency.code(), "CHF");
    assert_eq!(
        set(&mut d, FactField::Currency, Cell::Int(978)),
        Err(Problem::UnknownCurrency)
    );
}

#[test]
fn measures_by_unit_and_type() {
    let mut d = Draft::default();
    let micros = |field| Binding {
        field,
        read: Read::Micros,
    };
    assert_eq!(set(&mut d, FactField::Cost, Cell::Text(b"1.5")), Ok(()));
    assert_eq!(d.measures[2], 1_500_000);
    assert_eq!(
        d.set(
            micros(FactField::Cost),
            &Cell::Text(b"1500"),
            &Options::default()
        ),
        Ok(())
    );
    assert_eq!(d.measures[2], 1_500);
    assert_eq!(
        d.set(
            micros(FactField::Cost),
            &Cell::Text(b"1.5"),
            &Options::default()
        ),
        Err(Problem::NotAWholeNumber)
    );
    assert_eq!(
        d.set(
            micros(FactField::Revenue),
            &Cell::Int(7),
            &Options::default()
        ),
        Ok(())
    );
    assert_eq!(d.measures[4], 7);
    assert_eq!(set(&mut d, FactField::Conversions, Cell::F64(0.1)), Ok(()));
    assert_eq!(d.measures[3], 100_000);
    let decimal = Cell::Decimal {
        unscaled: i256::from_i128(-1234),
        scale: 2,
    };
    assert_eq!(
        set(&mut d, FactField::Revenue, decimal),
        Err(Problem::Negative)
    );
    assert_eq!(decimal.render(), "-12.34");
    let decimal = Cell::Decimal {
        unscaled: i256::from_i128(5),
        scale: 3,
    };
    assert_eq!(set(&mut d, FactField::Revenue, decimal), Ok(()));
    assert_eq!(d.measures[4], 5_000);
    assert_eq!(decimal.render(), "0.005");
    let decimal = Cell::Decimal {
        unscaled: i256::from_i128(5),
        scale: -2,
    };
    assert_eq!(decimal.render(), "5e2");
    assert_eq!(set(&mut d, FactField::Clicks, Cell::Text(b"12")), Ok(()));
    assert_eq!(d.measures[1], 12);
    assert_eq!(
        set(&mut d, FactField::Clicks, Cell::F64(1.0)),
        Err(Problem::WrongType {
            expected: "a whole number"
        })
    );
    assert_eq!(
        set(&mut d, FactField::Clicks, Cell::OtherJson(b"true")),
        Err(Problem::WrongType {
            expected: "a whole number"
        })
    );
    assert_eq!(
        set(&mut d, FactField::Cost, Cell::OtherJson(b"[]")),
        Err(Problem::WrongType {
            expected: "a number"
        })
    );
    d.reset();
    assert_eq!(d.measures, [0; 5]);
}
