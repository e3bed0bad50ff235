//! What a card's license allows: the Hub's license list and a classification
//! of each id into a family with its main conditions.

use serde::Serialize;

use super::license_terms::{Terms, terms_for};

/// The Hub's official license ids (`id`, `name`, `url` columns), byte-exact from
/// the hub-docs repository.
const HUB_LICENSES_TSV: &str = include_str!("../../assets/licenses.tsv");

/// One entry of the Hub's official license list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HubLicense {
    /// The value for `license:` in a card, such as `apache-2.0`.
    pub id: &'static str,
    /// The full name, such as `Apache license 2.0`.
    pub name: &'static str,
    /// Links to the license or its description (often none, sometimes two).
    pub links: Vec<&'static str>,
}

/// The Hub's official license list, in the Hub's order.
pub fn hub_licenses() -> impl Iterator<Item = HubLicense> {
    HUB_LICENSES_TSV.lines().skip(1).filter_map(|line| {
        let mut columns = line.split('\t');
        let id = columns.next().filter(|id| !id.is_empty())?;
        let name = columns.next()?;
        let links = columns.next().unwrap_or("").split_whitespace().collect();
        Some(HubLicense { id, name, links })
    })
}

/// The Hub license with this id, compared case-insensitively.
fn find_hub_license(id: &str) -> Option<HubLicense> {
    hub_licenses().find(|license| license.id.eq_ignore_ascii_case(id))
}

/// A card's license: which one it is and what it broadly allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct License {
    /// The Hub license id in its canonical (lower-case) form, the id as written
    /// when it is not a Hub id, or `None` when the card declares no license.
    pub id: Option<String>,
    /// The full name: from the Hub's list, the card's `license_name` for
    /// `other`, the id as written when unrecognised, or `No license`.
    pub name: String,
    /// The card's `license_link` if given (kept as written; relative links such
    /// as `LICENSE` are left for the caller to resolve), else the Hub's link.
    pub link: Option<String>,
    /// The broad kind of license.
    pub family: LicenseFamily,
    /// What the license allows and requires, in brief.
    pub conditions: Conditions,
    /// Whether the id is one of the Hub's official license ids (`other` and
    /// `unknown` included).
    pub known: bool,
}

/// The broad kind of a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseFamily {
    /// Use, change and share freely, keeping notices (MIT, Apache-2.0, BSD,
    /// CC-BY). CC-BY-ND is here too, with a "No derivatives" note.
    Permissive,
    /// No conditions at all (CC0, Unlicense, PDDL, WTFPL).
    PublicDomain,
    /// Shared changes must stay under the same license (GPL, AGPL, CC-BY-SA),
    /// including weak copyleft (LGPL, MPL, EPL, MS-PL), which carries a note.
    Copyleft,
    /// Open responsible-AI licenses: open use under behavioural use restrictions
    /// that pass on to derivatives (OpenRAIL-M family, BLOOM RAIL, Open RAIL++).
    OpenRail,
    /// General-purpose licenses that forbid commercial use (CC-BY-NC variants).
    NonCommercial,
    /// Custom terms written for a model, vendor or data set (Llama, Gemma,
    /// research-only vendor licenses, `other` with a name or link); see
    /// [`Conditions::commercial_use`] for whether commercial use is allowed.
    ModelSpecific,
    /// No license, `unknown`, `other` without a name or link, or an
    /// unrecognised id.
    Unknown,
}

impl LicenseFamily {
    /// A short lower-case label for people, such as `permissive` or `non-commercial`.
    pub fn label(self) -> &'static str {
        match self {
            LicenseFamily::Permissive => "permissive",
            LicenseFamily::PublicDomain => "public domain",
            LicenseFamily::Copyleft => "copyleft",
            LicenseFamily::OpenRail => "OpenRAIL",
            LicenseFamily::NonCommercial => "non-commercial",
            LicenseFamily::ModelSpecific => "model-specific terms",
            LicenseFamily::Unknown => "unknown",
        }
    }
}

/// What a license allows and requires, in brief. A summary, not legal advice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conditions {
    /// Whether commercial use is allowed.
    pub commercial_use: Permission,
    /// Whether credit and license notices must be kept.
    pub attribution: Tri,
    /// Whether shared changes must use the same license.
    pub share_alike: Tri,
    /// Whether behavioural use restrictions apply (RAIL use-based
    /// restrictions, acceptable-use policies).
    pub use_restrictions: bool,
    /// Short sentences for people, such as "Non-commercial use only".
    pub notes: Vec<String>,
}

/// Whether something is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Allowed.
    Allowed,
    /// Not allowed.
    NotAllowed,
    /// Allowed only under conditions (user thresholds, data-use limits, …).
    Conditional,
    /// Not known.
    Unknown,
}

/// Whether something is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tri {
    /// Required.
    Required,
    /// Not required.
    NotRequired,
    /// Not known.
    Unknown,
}

/// Classifies a card's `license`, `license_name` and `license_link` fields.
///
/// Ids match case-insensitively (`MIT` is `mit`). For `other`, a
/// `license_name` that is itself a Hub id (say `openmdw-1.1`) is classified
/// as that license; any other name or link makes it
/// [`LicenseFamily::ModelSpecific`]; with neither it is unknown.
pub fn classify(
    license: Option<&str>,
    license_name: Option<&str>,
    license_link: Option<&str>,
) -> License {
    let (license, license_name, license_link) =
        (given(license), given(license_name), given(license_link));
    let Some(id) = license else {
        return unknown_license(
            None,
            "No license".to_owned(),
            license_link.map(str::to_owned),
            "No license is declared",
        );
    };
    match find_hub_license(id) {
        None => unknown_license(
            Some(id.to_owned()),
            id.to_owned(),
            license_link.map(str::to_owned),
            "Not one of the Hub's license ids; read the repository's license",
        ),
        Some(hub) if hub.id == "other" => classify_other(license_name, license_link),
        Some(hub) => {
            let link = card_link_or_hubs(license_link, &hub);
            match terms_for(hub.id) {
                Some(terms) => known_license(hub.id, hub.name.to_owned(), link, terms, None),
                None => License {
                    known: true,
                    ..unknown_license(
                        Some(hub.id.to_owned()),
                        hub.name.to_owned(),
                        link,
                        "The license is declared as unknown",
                    )
                },
            }
        }
    }
}

/// The field's text, or `None` when it is missing or blank.
fn given(field: Option<&str>) -> Option<&str> {
    field.map(str::trim).filter(|text| !text.is_empty())
}

/// The card's link when it gives one, else the Hub list's first link.
fn card_link_or_hubs(card_link: Option<&str>, hub: &HubLicense) -> Option<String> {
    card_link.or(hub.links.first().copied()).map(str::to_owned)
}

fn classify_other(license_name: Option<&str>, license_link: Option<&str>) -> License {
    if let Some(name) = license_name
        && let Some(hub) = find_hub_license(name)
        && let Some(terms) = terms_for(hub.id)
    {
        let link = card_link_or_hubs(license_link, &hub);
        let note = format!(
            "Declared as `other` with license_name `{name}`, which is the Hub license `{}`",
            hub.id
        );
        return known_license("other", hub.name.to_owned(), link, terms, Some(note));
    }
    let name = license_name.unwrap_or("Other").to_owned();
    let link = license_link.map(str::to_owned);
    if license_name.is_none() && license_link.is_none() {
        return License {
            known: true,
            ..unknown_license(
                Some("other".to_owned()),
                name,
                None,
                "Declared as `other` without a license name or link",
            )
        };
    }
    License {
        id: Some("other".to_owned()),
        name,
        link,
        family: LicenseFamily::ModelSpecific,
        conditions: Conditions {
            commercial_use: Permission::Unknown,
            attribution: Tri::Unknown,
            share_alike: Tri::Unknown,
            use_restrictions: false,
            notes: vec!["Custom license: read its terms before use".to_owned()],
        },
        known: true,
    }
}

fn known_license(
    id: &str,
    name: String,
    link: Option<String>,
    terms: Terms,
    extra_note: Option<String>,
) -> License {
    let notes = terms
        .notes
        .iter()
        .map(|note| (*note).to_owned())
        .chain(extra_note)
        .collect();
    License {
        id: Some(id.to_owned()),
        name,
        link,
        family: terms.family,
        conditions: Conditions {
            commercial_use: terms.commercial_use,
            attribution: terms.attribution,
            share_alike: terms.share_alike,
            use_restrictions: terms.use_restrictions,
            notes,
        },
        known: true,
    }
}

fn unknown_license(id: Option<String>, name: String, link: Option<String>, note: &str) -> License {
    License {
        id,
        name,
        link,
        family: LicenseFamily::Unknown,
        conditions: Conditions {
            commercial_use: Permission::Unknown,
            attribution: Tri::Unknown,
            share_alike: Tri::Unknown,
            use_restrictions: false,
            notes: vec![note.to_owned()],
        },
        known: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_the_hubs_list() {
        let licenses: Vec<HubLicense> = hub_licenses().collect();
        assert_eq!(licenses.len(), 83);
        assert_eq!(licenses[0].id, "apache-2.0");
        assert_eq!(licenses[0].name, "Apache license 2.0");
        assert!(licenses[0].links.is_empty());
        let bloom = licenses
            .iter()
            .find(|l| l.id == "bigscience-bloom-rail-1.0");
        assert_eq!(bloom.map(|l| l.links.len()), Some(2));
    }

    #[test]
    fn every_hub_id_has_a_family() {
        for hub in hub_licenses() {
            let license = classify(Some(hub.id), None, None);
            let expected_unknown = hub.id == "unknown" || hub.id == "other";
            assert_eq!(
                license.family == LicenseFamily::Unknown,
                expected_unknown,
                "{}",
                hub.id
            );
            assert!(license.known, "{}", hub.id);
            assert_eq!(license.id.as_deref(), Some(hub.id));
            assert_eq!(license.name, hub.name);
            assert!(
                !license.conditions.notes.is_empty(),
                "{} has no notes",
                hub.id
            );
        }
    }

    #[test]
    fn families_and_conditions() {
        use LicenseFamily::*;
        use Permission::{Allowed, Conditional, NotAllowed};
        // (id, family, commercial use, share-alike, use restrictions)
        let cases: &[(&str, LicenseFamily, Permission, Tri, bool)] = &[
            ("apache-2.0", Permissive, Allowed, Tri::NotRequired, false),
            ("mit", Permissive, Allowed, Tri::NotRequired, false),
            ("cc-by-4.0", Permissive, Allowed, Tri::NotRequired, false),
            ("cc0-1.0", PublicDomain, Allowed, Tri::NotRequired, false),
            ("unlicense", PublicDomain, Allowed, Tri::NotRequired, false),
            ("gpl-3.0", Copyleft, Allowed, Tri::Required, false),
            ("agpl-3.0", Copyleft, Allowed, Tri::Required, false),
            ("lgpl-2.1", Copyleft, Allowed, Tri::Required, false),
            ("mpl-2.0", Copyleft, Allowed, Tri::Required, false),
            ("cc-by-sa-4.0", Copyleft, Allowed, Tri::Required, false),
            ("openrail", OpenRail, Allowed, Tri::NotRequired, true),
            (
                "creativeml-openrail-m",
                OpenRail,
                Allowed,
                Tri::NotRequired,
                true,
            ),
            (
                "bigscience-bloom-rail-1.0",
                OpenRail,
                Allowed,
                Tri::NotRequired,
                true,
            ),
            (
                "bigcode-openrail-m",
                OpenRail,
                Allowed,
                Tri::NotRequired,
                true,
            ),
            ("openrail++", OpenRail, Allowed, Tri::NotRequired, true),
            (
                "cc-by-nc-4.0",
                NonCommercial,
                NotAllowed,
                Tri::NotRequired,
                false,
            ),
            (
                "cc-by-nc-sa-4.0",
                NonCommercial,
                NotAllowed,
                Tri::Required,
                false,
            ),
            (
                "cc-by-nc-nd-4.0",
                NonCommercial,
                NotAllowed,
                Tri::NotRequired,
                false,
            ),
            ("llama2", ModelSpecific, Conditional, Tri::NotRequired, true),
            (
                "llama3.1",
                ModelSpecific,
                Conditional,
                Tri::NotRequired,
                true,
            ),
            ("gemma", ModelSpecific, Allowed, Tri::NotRequired, true),
            (
                "deepfloyd-if-license",
                ModelSpecific,
                NotAllowed,
                Tri::NotRequired,
                true,
            ),
            (
                "fair-noncommercial-research-license",
                ModelSpecific,
                NotAllowed,
                Tri::Unknown,
                false,
            ),
        ];
        for (id, family, commercial_use, share_alike, use_restrictions) in cases {
            let license = classify(Some(id), None, None);
            assert_eq!(license.family, *family, "{id}");
            assert_eq!(license.conditions.commercial_use, *commercial_use, "{id}");
            assert_eq!(license.conditions.share_alike, *share_alike, "{id}");
            assert_eq!(
                license.conditions.use_restrictions, *use_restrictions,
                "{id}"
            );
        }
    }

    #[test]
    fn notes_explain_the_key_terms() {
        let has_note = |id: &str, fragment: &str| {
            classify(Some(id), None, None)
                .conditions
                .notes
                .iter()
                .any(|note| note.contains(fragment))
        };
        assert!(has_note("cc-by-nc-4.0", "Non-commercial use only"));
        assert!(has_note(
            "gpl-3.0",
            "Changes must be shared under the same license"
        ));
        assert!(has_note("lgpl-3.0", "Weak copyleft"));
        assert!(has_note("mpl-2.0", "Weak copyleft"));
        assert!(has_note("epl-2.0", "Weak copyleft"));
        assert!(has_note("openrail", "Use restrictions apply"));
        assert!(has_note("cc-by-nd-4.0", "No derivatives"));
        assert!(has_note("agpl-3.0", "network"));
    }

    #[test]
    fn ids_match_case_insensitively() {
        for written in ["MIT", "mit", "Mit", " mit "] {
            let license = classify(Some(written), None, None);
            assert_eq!(license.id.as_deref(), Some("mit"), "{written:?}");
            assert_eq!(license.family, LicenseFamily::Permissive);
            assert!(license.known);
        }
        assert_eq!(
            classify(Some("Apache-2.0"), None, None).name,
            "Apache license 2.0"
        );
        assert_eq!(
            classify(Some("OTHER"), Some("acme"), None).family,
            LicenseFamily::ModelSpecific
        );
    }

    /// (license_name, license_link, family, name, link)
    type OtherCase = (
        Option<&'static str>,
        Option<&'static str>,
        LicenseFamily,
        &'static str,
        Option<&'static str>,
    );

    #[test]
    fn other_rules() {
        let cases: &[OtherCase] = &[
            (
                Some("lfm1.0"),
                Some("LICENSE"),
                LicenseFamily::ModelSpecific,
                "lfm1.0",
                Some("LICENSE"),
            ),
            (
                Some("qwen"),
                None,
                LicenseFamily::ModelSpecific,
                "qwen",
                None,
            ),
            (
                None,
                Some("https://x.y/l"),
                LicenseFamily::ModelSpecific,
                "Other",
                Some("https://x.y/l"),
            ),
            (None, None, LicenseFamily::Unknown, "Other", None),
            (Some("  "), None, LicenseFamily::Unknown, "Other", None),
            (
                Some("openmdw-1.1"),
                Some("https://openmdw.ai/license/1-1/"),
                LicenseFamily::Permissive,
                "Open Model, Data & Weights License Agreement v1.1",
                Some("https://openmdw.ai/license/1-1/"),
            ),
            (Some("MIT"), None, LicenseFamily::Permissive, "MIT", None),
            (
                Some("other"),
                None,
                LicenseFamily::ModelSpecific,
                "other",
                None,
            ),
        ];
        for (name, link, family, expected_name, expected_link) in cases {
            let license = classify(Some("other"), *name, *link);
            assert_eq!(license.id.as_deref(), Some("other"), "{name:?}");
            assert_eq!(license.family, *family, "{name:?}");
            assert_eq!(license.name, *expected_name, "{name:?}");
            assert_eq!(license.link.as_deref(), *expected_link, "{name:?}");
            assert!(license.known);
        }
    }

    #[test]
    fn missing_and_unrecognised_licenses() {
        let none = classify(None, None, None);
        assert_eq!(
            (none.id, none.name.as_str(), none.family, none.known),
            (None, "No license", LicenseFamily::Unknown, false)
        );
        let blank = classify(Some(""), None, None);
        assert_eq!(blank.name, "No license");
        let odd = classify(Some("Apache 2"), None, Some("https://example.com"));
        assert_eq!(odd.id.as_deref(), Some("Apache 2"));
        assert_eq!(odd.name, "Apache 2");
        assert_eq!(odd.link.as_deref(), Some("https://example.com"));
        assert_eq!((odd.family, odd.known), (LicenseFamily::Unknown, false));
        let declared_unknown = classify(Some("unknown"), None, None);
        assert_eq!(
            (declared_unknown.family, declared_unknown.known),
            (LicenseFamily::Unknown, true)
        );
    }

    #[test]
    fn links_prefer_the_card() {
        let table_link = classify(Some("llama2"), None, None).link;
        assert_eq!(
            table_link.as_deref(),
            Some("https://huggingface.co/meta-llama/Llama-2-7b-chat-hf/blob/main/LICENSE.txt")
        );
        let card_link = classify(Some("llama2"), None, Some("LICENSE.txt")).link;
        assert_eq!(card_link.as_deref(), Some("LICENSE.txt"));
        assert_eq!(classify(Some("mit"), None, None).link, None);
    }
}
