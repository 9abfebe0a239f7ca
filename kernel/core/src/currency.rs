//! ISO 4217 currency codes.

use crate::problem::Problem;

/// The active ISO 4217 codes of currencies (list one as amended to 2025), sorted. Fund codes
/// (BOV, CHE, CLF, USN, …), precious metals, SDRs and the testing/"no currency" codes are
/// left out on purpose: no ad platform bills in them, so they can only be mistakes.
const CODES: [&str; 156] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An accepted currency, as its index in the code list (two bytes a row instead of a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Currency(u8);

impl Currency {
    /// Trimmed and upper-cased, `text` must be an accepted code.
    pub fn parse(text: &[u8]) -> Result<Currency, Problem> {
        let [a, b, c] = *text.trim_ascii() else {
            return Err(Problem::UnknownCurrency);
        };
        let upper = [a, b, c].map(|x| x.to_ascii_uppercase());
        CODES
            .binary_search_by(|code| code.as_bytes().cmp(&upper[..]))
            .map(|i| Currency(i as u8))
            .map_err(|_| Problem::UnknownCurrency)
    }

    pub fn code(self) -> &'static str {
        CODES[usize::from(self.0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_unique_so_binary_search_works() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(CODES
            .iter()
            .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
    }

    #[test]
    fn codes_are_trimmed_and_upper_cased() {
        assert_eq!(Currency::parse(b" eur ").map(Currency::code), Ok("EUR"));
        assert_eq!(Currency::parse(b"usd").map(Currency::code), Ok("USD"));
        assert_eq!(Currency::parse(b"ZWG").map(Currency::code), Ok("ZWG"));
        assert_eq!(Currency::parse(b"AED").map(Currency::code), Ok("AED"));
    }

    #[test]
    fn unknown_withdrawn_and_non_currency_codes_are_refused() {
        for bad in [
            "EURO", "EU", "", "XXX", "XAU", "HRK", "DEM", "E U", "€", "US$",
        ] {
            assert_eq!(
                Currency::parse(bad.as_bytes()),
                Err(Problem::UnknownCurrency),
                "{bad}"
            );
        }
    }
}
