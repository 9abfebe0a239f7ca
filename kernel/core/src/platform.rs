//! Ad platforms: canonical names and the aliases senders actually write.
//!
//! A leaf: it says whether a spelling names a platform; the ingest readers turn a refusal into
//! their `Problem`, so this module and `problem` do not depend on each other.

use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Platform(u8);

const CANONICAL: [&str; 10] = [
    "google_ads",
    "meta_ads",
    "tiktok_ads",
    "linkedin_ads",
    "microsoft_ads",
    "pinterest_ads",
    "snapchat_ads",
    "reddit_ads",
    "amazon_ads",
    "x_ads",
];

/// Alias → index in `CANONICAL`.
const ALIASES: [(&str, u8); 16] = [
    ("google", 0),
    ("adwords", 0),
    ("meta", 1),
    ("facebook", 1),
    ("facebook_ads", 1),
    ("instagram", 1),
    ("tiktok", 2),
    ("linkedin", 3),
    ("bing", 4),
    ("microsoft", 4),
    ("pinterest", 5),
    ("snapchat", 6),
    ("reddit", 7),
    ("amazon", 8),
    ("twitter", 9),
    ("x", 9),
];

/// Longer than every accepted name: no need to lower-case it to refuse it.
const LONGEST_NAME: usize = 16;

impl Platform {
    /// Trimmed and lower-cased, `text` must be a canonical name or an alias.
    pub fn parse(text: &[u8]) -> Option<Platform> {
        let text = text.trim_ascii();
        if text.len() > LONGEST_NAME {
            return None;
        }
        let mut buf = [0u8; LONGEST_NAME];
        let lower = &mut buf[..text.len()];
        lower.copy_from_slice(text);
        lower.make_ascii_lowercase();
        let lower = &*lower;
        CANONICAL
            .iter()
            .position(|name| name.as_bytes() == lower)
            .map(|i| i as u8)
            .or_else(|| {
                ALIASES
                    .iter()
                    .find(|(alias, _)| alias.as_bytes() == lower)
                    .map(|a| a.1)
            })
            .map(Platform)
    }

    pub fn name(self) -> &'static str {
        CANONICAL[usize::from(self.0)]
    }
}

/// Every accepted spelling, for the reason that refuses an unknown one.
pub fn accepted_names() -> &'static str {
    static NAMES: LazyLock<String> = LazyLock::new(|| {
        let aliases: Vec<&str> = ALIASES.iter().map(|a| a.0).collect();
        format!(
            "{} or an alias: {}",
            CANONICAL.join(", "),
            aliases.join(", ")
        )
    });
    &NAMES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(t: &str) -> Option<&'static str> {
        Platform::parse(t.as_bytes()).map(Platform::name)
    }

    #[test]
    fn canonical_names_and_aliases() {
        for canonical in CANONICAL {
            assert_eq!(name(canonical), Some(canonical));
        }
        assert_eq!(name(" Google "), Some("google_ads"));
        assert_eq!(name("AdWords"), Some("google_ads"));
        assert_eq!(name("FACEBOOK"), Some("meta_ads"));
        assert_eq!(name("instagram"), Some("meta_ads"));
        assert_eq!(name("Bing"), Some("microsoft_ads"));
        assert_eq!(name("twitter"), Some("x_ads"));
        assert_eq!(name("X"), Some("x_ads"));
    }

    #[test]
    fn anything_else_is_refused_and_the_accepted_names_list_every_spelling() {
        for bad in [
            "",
            "yahoo",
            "google ads",
            "google_ads_extra_long_name",
            "göögle",
        ] {
            assert_eq!(name(bad), None, "{bad}");
        }
        let names = accepted_names();
        assert!(
            names.contains("google_ads") && names.contains("x_ads") && names.contains("facebook")
        );
    }

    #[test]
    fn aliases_point_at_existing_platforms_and_do_not_shadow_names() {
        for (alias, target) in ALIASES {
            assert!(usize::from(target) < CANONICAL.len());
            assert!(!CANONICAL.contains(&alias));
            assert!(alias.len() <= LONGEST_NAME);
        }
    }
}
