//! The family and main conditions of each of the Hub's license ids.
//!
//! Every id in `assets/licenses.tsv` is decided here on purpose; `unknown`
//! and `other` have no fixed terms. This is a summary to orient people, not
//! legal advice.

use super::license::{LicenseFamily, Permission, Tri};

/// The family and conditions of one license id.
pub(super) struct Terms {
    pub(super) family: LicenseFamily,
    pub(super) commercial_use: Permission,
    pub(super) attribution: Tri,
    pub(super) share_alike: Tri,
    pub(super) use_restrictions: bool,
    pub(super) notes: &'static [&'static str],
}

const NOTICE: &str = "Keep the copyright and license notices";
const CREDIT: &str = "Give credit to the creator and link to the license";
const SHARE_ALIKE: &str = "Changes must be shared under the same license";
const WEAK_COPYLEFT: &str = "Weak copyleft: changes to the licensed files must be shared under the same license; \
                             larger works may use other terms";
const NETWORK: &str = "Offering it to users over a network counts as distribution";
const NON_COMMERCIAL: &str = "Non-commercial use only";
const NO_DERIVATIVES: &str =
    "No derivatives: modified versions (fine-tunes included) may not be shared";
const USE_RESTRICTIONS: &str = "Use restrictions apply (see the license's use-based restrictions)";
const PASS_ON_RESTRICTIONS: &str =
    "Derivatives and redistributions must carry the same use restrictions";
const VERSION_UNSTATED: &str = "The exact license version is not stated";
const CC_VARIANT_UNSTATED: &str = "The Creative Commons variant is not stated; check for NC (non-commercial), \
                                   ND (no derivatives) or SA (share-alike) terms";
const PUBLIC_DOMAIN: &str = "No conditions: dedicated to the public domain";
const NO_CONDITIONS: &str = "No conditions";
const NO_PATENT_GRANT: &str = "Grants no patent rights";
const MARK_CHANGES: &str = "Modified versions must be marked as such";
const RENAME_CHANGES: &str = "Modified versions must be distributed under a different name";
const FONTS: &str =
    "Fonts may be bundled with software but not sold on their own; modified fonts must be renamed";
const DATA_SHARE_ALIKE: &str =
    "Shared data must stay under the same terms; results computed from it are not covered";
const DATA_RESULTS_FREE: &str = "Results computed from the data are not covered by the license";
const DATABASE_SHARE_ALIKE: &str = "Shared or adapted databases must stay under the same license";
const COMPUTATIONAL_USE: &str =
    "The data may be used only for computational analysis, such as training models";
const RESEARCH_ONLY: &str = "Non-commercial research use only";
const ACCEPTABLE_USE: &str = "An acceptable use policy applies";
const PASS_ON_TERMS: &str = "Redistributions must include the license terms";
const LLAMA_USER_LIMIT: &str =
    "Products with over 700 million monthly active users need a separate license from Meta";
const LLAMA_BRANDING: &str =
    "Derived models must credit Llama (\"Built with Llama\") and put \"Llama\" in their names";
const LLAMA2_OUTPUTS: &str = "Outputs may not be used to improve other large language models";
const READ_CONDITIONS: &str = "Commercial use only under the license's conditions; read its terms";

/// The terms of a Hub license id (lower case), or `None` for `unknown`,
/// `other` and ids that are not on the Hub's list.
pub(super) fn terms_for(id: &str) -> Option<Terms> {
    let terms = match id {
        // Permissive.
        "apache-2.0" | "mit" | "afl-3.0" | "bsl-1.0" | "bsd-2-clause" | "bsd-3-clause"
        | "ecl-2.0" | "isc" | "apple-ascl" | "ncsa" | "postgresql" | "openmdw-1.0"
        | "openmdw-1.1" => permissive(&[NOTICE]),
        "bsd" => permissive(&[NOTICE, VERSION_UNSTATED]),
        "bsd-3-clause-clear" => permissive(&[NOTICE, NO_PATENT_GRANT]),
        "artistic-2.0" => permissive(&[NOTICE, MARK_CHANGES]),
        "lppl-1.3c" => permissive(&[NOTICE, RENAME_CHANGES]),
        "zlib" => Terms {
            attribution: Tri::NotRequired,
            ..permissive(&[MARK_CHANGES, "Keep the notice in source copies"])
        },
        "cc-by-2.0" | "cc-by-2.5" | "cc-by-3.0" | "cc-by-4.0" | "etalab-2.0" => {
            permissive(&[CREDIT])
        }
        "cc-by-nd-4.0" => permissive(&[CREDIT, NO_DERIVATIVES]),
        "cc" => Terms {
            commercial_use: Permission::Unknown,
            share_alike: Tri::Unknown,
            ..permissive(&[CREDIT, CC_VARIANT_UNSTATED])
        },
        "odc-by" => permissive(&[CREDIT, VERSION_UNSTATED]),
        "cdla-permissive-1.0" | "cdla-permissive-2.0" => permissive(&[NOTICE, DATA_RESULTS_FREE]),

        // Public domain or no conditions at all.
        "cc0-1.0" | "unlicense" | "pddl" => public_domain(&[PUBLIC_DOMAIN]),
        "wtfpl" => public_domain(&[NO_CONDITIONS]),

        // Copyleft, strong then weak.
        "gpl-2.0" | "gpl-3.0" => copyleft(&[SHARE_ALIKE]),
        "gpl" | "gfdl" => copyleft(&[SHARE_ALIKE, VERSION_UNSTATED]),
        "agpl-3.0" | "eupl-1.1" | "eupl-1.2" | "osl-3.0" => copyleft(&[SHARE_ALIKE, NETWORK]),
        "cc-by-sa-3.0" | "cc-by-sa-4.0" => copyleft(&[CREDIT, SHARE_ALIKE]),
        "cdla-sharing-1.0" => copyleft(&[NOTICE, DATA_SHARE_ALIKE]),
        "odbl" => copyleft(&[CREDIT, DATABASE_SHARE_ALIKE, VERSION_UNSTATED]),
        "lgpl-2.1" | "lgpl-3.0" | "lgpl-lr" | "mpl-2.0" | "epl-1.0" | "epl-2.0" | "ms-pl" => {
            copyleft(&[NOTICE, WEAK_COPYLEFT])
        }
        "lgpl" => copyleft(&[NOTICE, WEAK_COPYLEFT, VERSION_UNSTATED]),
        "ofl-1.1" => copyleft(&[NOTICE, WEAK_COPYLEFT, FONTS]),

        // Open responsible-AI licenses.
        "bigscience-openrail-m"
        | "creativeml-openrail-m"
        | "bigscience-bloom-rail-1.0"
        | "bigcode-openrail-m"
        | "openrail++" => open_rail(&[USE_RESTRICTIONS, PASS_ON_RESTRICTIONS]),
        "openrail" => open_rail(&[USE_RESTRICTIONS, PASS_ON_RESTRICTIONS, VERSION_UNSTATED]),

        // General-purpose non-commercial licenses.
        "cc-by-nc-2.0" | "cc-by-nc-3.0" | "cc-by-nc-4.0" => {
            non_commercial(Tri::NotRequired, &[NON_COMMERCIAL, CREDIT])
        }
        "cc-by-nc-nd-3.0" | "cc-by-nc-nd-4.0" => {
            non_commercial(Tri::NotRequired, &[NON_COMMERCIAL, CREDIT, NO_DERIVATIVES])
        }
        "cc-by-nc-sa-2.0" | "cc-by-nc-sa-3.0" | "cc-by-nc-sa-4.0" => {
            non_commercial(Tri::Required, &[NON_COMMERCIAL, CREDIT, SHARE_ALIKE])
        }

        // Model- and vendor-specific terms.
        "llama2" => Terms {
            notes: &[
                LLAMA_USER_LIMIT,
                ACCEPTABLE_USE,
                LLAMA2_OUTPUTS,
                PASS_ON_TERMS,
            ],
            ..llama()
        },
        "llama3" | "llama3.1" | "llama3.2" | "llama3.3" | "llama4" => llama(),
        "gemma" => Terms {
            commercial_use: Permission::Allowed,
            ..model_specific(&[ACCEPTABLE_USE, PASS_ON_TERMS])
        },
        "grok2-community" => Terms {
            attribution: Tri::Unknown,
            share_alike: Tri::Unknown,
            ..model_specific(&[READ_CONDITIONS, ACCEPTABLE_USE])
        },
        "deepfloyd-if-license" => Terms {
            commercial_use: Permission::NotAllowed,
            ..model_specific(&[RESEARCH_ONLY, USE_RESTRICTIONS])
        },
        "fair-noncommercial-research-license" | "h-research" | "intel-research" | "apple-amlr" => {
            research_only()
        }
        "c-uda" => Terms {
            attribution: Tri::Unknown,
            use_restrictions: false,
            ..model_specific(&[COMPUTATIONAL_USE])
        },

        // No fixed terms: `unknown`, `other`, and anything not on the list.
        _ => return None,
    };
    Some(terms)
}

const fn permissive(notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::Permissive,
        commercial_use: Permission::Allowed,
        attribution: Tri::Required,
        share_alike: Tri::NotRequired,
        use_restrictions: false,
        notes,
    }
}

const fn public_domain(notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::PublicDomain,
        attribution: Tri::NotRequired,
        ..permissive(notes)
    }
}

const fn copyleft(notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::Copyleft,
        share_alike: Tri::Required,
        ..permissive(notes)
    }
}

const fn open_rail(notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::OpenRail,
        use_restrictions: true,
        ..permissive(notes)
    }
}

const fn non_commercial(share_alike: Tri, notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::NonCommercial,
        commercial_use: Permission::NotAllowed,
        share_alike,
        ..permissive(notes)
    }
}

/// Custom terms: commercial use under conditions, notices kept, an
/// acceptable-use policy; callers adjust what differs.
const fn model_specific(notes: &'static [&'static str]) -> Terms {
    Terms {
        family: LicenseFamily::ModelSpecific,
        commercial_use: Permission::Conditional,
        use_restrictions: true,
        ..permissive(notes)
    }
}

const fn llama() -> Terms {
    model_specific(&[
        LLAMA_USER_LIMIT,
        ACCEPTABLE_USE,
        LLAMA_BRANDING,
        PASS_ON_TERMS,
    ])
}

const fn research_only() -> Terms {
    Terms {
        commercial_use: Permission::NotAllowed,
        attribution: Tri::Unknown,
        share_alike: Tri::Unknown,
        use_restrictions: false,
        ..model_specific(&[RESEARCH_ONLY])
    }
}
