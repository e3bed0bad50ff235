//! Model cards: the README.md of a Hub model, split into typed metadata (from
//! its YAML front matter) and a Markdown body, plus license classification.
//!
//! Parsing never fails: whatever is wrong with a card becomes a human-readable
//! warning and the body is always kept.

pub mod front_matter;
mod lenient;
pub mod license;
mod license_terms;
pub mod metadata;
pub mod model_index;
mod yaml;

use serde::Serialize;

pub use front_matter::{SplitCard, split_front_matter};
pub use license::{
    Conditions, HubLicense, License, LicenseFamily, Permission, Tri, classify, hub_licenses,
};
pub use metadata::{CardMetadata, Inference};
pub use model_index::EvalResult;

/// A parsed model card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCard {
    /// The metadata from the front matter (empty when there is none).
    pub metadata: CardMetadata,
    /// The Markdown after the front matter (the whole card when it has none).
    pub body: String,
    /// The front matter's YAML text as written, when the card has a block.
    pub front_matter: Option<String>,
    /// Problems found while reading the card, for people.
    pub warnings: Vec<String>,
}

impl ModelCard {
    /// Parses a model card's text. Never fails and never panics.
    pub fn parse(text: &str) -> Self {
        let split = split_front_matter(text);
        let mut warnings: Vec<String> = split.warning.into_iter().collect();
        let metadata = split
            .yaml
            .map(|yaml| CardMetadata::from_yaml(yaml, &mut warnings))
            .unwrap_or_default();
        ModelCard {
            metadata,
            body: split.body.to_owned(),
            front_matter: split.yaml.map(str::to_owned),
            warnings,
        }
    }

    /// The card's license, classified from `license`, `license_name` and `license_link`.
    pub fn license(&self) -> License {
        classify(
            self.metadata.license.as_deref(),
            self.metadata.license_name.as_deref(),
            self.metadata.license_link.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_card() {
        let card = ModelCard::parse(
            "\u{feff}---\r\nlicense: MIT\r\nlanguage: eo\r\n---\r\n\r\n# Hello\r\n",
        );
        assert!(card.warnings.is_empty(), "{:?}", card.warnings);
        assert_eq!(card.metadata.license.as_deref(), Some("MIT"));
        assert_eq!(card.metadata.language, ["eo"]);
        assert_eq!(
            card.front_matter.as_deref(),
            Some("license: MIT\r\nlanguage: eo")
        );
        assert_eq!(card.body, "\r\n# Hello\r\n");
        let license = card.license();
        assert_eq!(
            (license.id.as_deref(), license.family),
            (Some("mit"), LicenseFamily::Permissive)
        );
    }

    #[test]
    fn broken_cards_keep_their_body_and_warn() {
        // (card, body expected, front matter kept)
        let cases: &[(&str, &str, bool)] = &[
            ("---\nlicense: [mit\n---\n# Body", "# Body", true),
            ("---\n- a\n- b\n---\n# Body", "# Body", true),
            (
                "---\njust a sentence: with: colons\n---\n# Body",
                "# Body",
                true,
            ),
            (
                "---\nlicense: mit\n# Body",
                "---\nlicense: mit\n# Body",
                false,
            ),
        ];
        for (text, body, kept) in cases {
            let card = ModelCard::parse(text);
            assert_eq!(card.body, *body, "{text:?}");
            assert_eq!(card.front_matter.is_some(), *kept, "{text:?}");
            assert_eq!(card.warnings.len(), 1, "{text:?}: {:?}", card.warnings);
            assert_eq!(card.metadata.license, None, "{text:?}");
        }
    }

    #[test]
    fn card_without_front_matter() {
        let card = ModelCard::parse("# Title\n\nText.\n");
        assert!(card.warnings.is_empty());
        assert_eq!(card.front_matter, None);
        assert_eq!(card.body, "# Title\n\nText.\n");
        assert_eq!(card.metadata, CardMetadata::default());
        assert_eq!(card.license().name, "No license");
    }

    #[test]
    fn serializes_with_stable_names() {
        let card = ModelCard::parse("---\nlicense: cc-by-nc-4.0\n---\n# T\n");
        let json = serde_json::to_value(&card).unwrap_or_default();
        assert_eq!(json["metadata"]["license"], "cc-by-nc-4.0");
        assert_eq!(json["body"], "# T\n");
        let license = serde_json::to_value(card.license()).unwrap_or_default();
        assert_eq!(license["family"], "non_commercial");
        assert_eq!(license["conditions"]["commercial_use"], "not_allowed");
        assert_eq!(license["conditions"]["share_alike"], "not_required");
    }
}
