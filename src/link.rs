//! Model links the app is started with: `hubble://model/<org>/<name>[?revision=…]` (what the
//! desktop entry's `x-scheme-handler/hubble` hands over) or a bare `<org>/<name>`.
//!
//! Links come from browsers and other processes, so everything is checked: the scheme, the
//! `model` kind, the repo id ([`RepoId::parse`]), the one known query key and the revision's
//! characters. Nothing here panics on any input.

use crate::hub::RepoId;

/// The URL scheme the desktop entry registers.
pub const SCHEME: &str = "hubble";

/// The longest link accepted (a repo id is ≤ 96 characters, a revision ≤ 256).
const MAX_LINK_LEN: usize = 512;

/// The longest revision accepted.
const MAX_REVISION_LEN: usize = 256;

/// A model page to open, with an optional revision (branch, tag, commit or `refs/pr/N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLink {
    /// The repository.
    pub repo: RepoId,
    /// The revision asked for; `None` means the default branch.
    pub revision: Option<String>,
}

/// Why an argument is not a model link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a model link: {reason}. Use hubble://model/<org>/<name>[?revision=<rev>] or <org>/<name>"
)]
pub struct LinkError {
    /// The argument, cut to a readable length.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ModelLink {
    /// Parses a command-line argument: a `hubble://model/…` URL (the scheme in any case, the
    /// namespace optional, one trailing `/` tolerated) or a bare `<org>/<name>` (the `/` is
    /// required, so a mistyped subcommand is not taken for a model).
    pub fn parse(input: &str) -> Result<ModelLink, LinkError> {
        let fail = |reason: &str| LinkError {
            input: input.chars().take(80).collect(),
            reason: reason.to_string(),
        };
        if input.len() > MAX_LINK_LEN {
            return Err(fail("it is too long"));
        }
        if input.chars().any(char::is_control) {
            return Err(fail("it contains control characters"));
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            if !input.contains('/') {
                return Err(fail("a bare model id needs its namespace, as in org/name"));
            }
            let repo = RepoId::parse(input).map_err(|e| fail(&repo_reason(&e)))?;
            return Ok(ModelLink {
                repo,
                revision: None,
            });
        };
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(fail(&format!("the scheme must be {SCHEME}://")));
        }
        if rest.contains('#') {
            return Err(fail("fragments (#…) are not allowed"));
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some(id) = path.strip_prefix("model/") else {
            return Err(fail("only model links (hubble://model/…) are supported"));
        };
        let id = id.strip_suffix('/').unwrap_or(id);
        let repo = RepoId::parse(id).map_err(|e| fail(&repo_reason(&e)))?;
        let revision = parse_query(query).map_err(|reason| fail(&reason))?;
        Ok(ModelLink { repo, revision })
    }

    /// The link as a `hubble://` URL (what a second instance hands to the first).
    pub fn to_url(&self) -> String {
        let mut url = format!("{SCHEME}://model/{}", self.repo);
        if let Some(revision) = &self.revision {
            let encoded: String =
                url::form_urlencoded::byte_serialize(revision.as_bytes()).collect();
            url.push_str("?revision=");
            url.push_str(&encoded);
        }
        url
    }
}

/// The repo id error without its own advice (the link error gives the forms).
fn repo_reason(error: &crate::hub::HubError) -> String {
    let text = error.to_string();
    let reason = text
        .split_once(" (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or(text.as_str(), |(why, _)| why);
    format!("invalid repository id ({reason})")
}

/// The query: nothing, or `revision=<rev>` once.
fn parse_query(query: &str) -> Result<Option<String>, String> {
    let mut revision = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "revision" {
            return Err(format!(
                "unknown parameter {key:?} (only revision is allowed)"
            ));
        }
        if revision.is_some() {
            return Err("revision is given twice".into());
        }
        check_revision(&value)?;
        revision = Some(value.into_owned());
    }
    Ok(revision)
}

/// A revision is a git ref name or a commit: letters, digits and `-_./`, no `..`, no `//`, not
/// starting or ending with `/` or `.`.
fn check_revision(revision: &str) -> Result<(), String> {
    if revision.is_empty() || revision.len() > MAX_REVISION_LEN {
        return Err(format!(
            "the revision must have 1 to {MAX_REVISION_LEN} characters"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if !revision.chars().all(allowed) {
        return Err("the revision may only hold letters, digits and - _ . /".into());
    }
    if revision.contains("..")
        || revision.contains("//")
        || revision.starts_with(['/', '.'])
        || revision.ends_with(['/', '.'])
    {
        return Err("the revision is not a valid ref name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(repo: &str, revision: Option<&str>) -> ModelLink {
        ModelLink {
            repo: RepoId::parse(repo).unwrap(),
            revision: revision.map(str::to_string),
        }
    }

    #[test]
    fn accepts_urls_and_bare_ids() {
        let cases = [
            ("hubble://model/org/name", link("org/name", None)),
            ("HUBBLE://model/org/name/", link("org/name", None)),
            ("hubble://model/gpt2", link("gpt2", None)),
            (
                "hubble://model/google-bert/bert-base-uncased?revision=v1.0",
                link("google-bert/bert-base-uncased", Some("v1.0")),
            ),
            (
                "hubble://model/org/name?revision=refs%2Fpr%2F1",
                link("org/name", Some("refs/pr/1")),
            ),
            ("hubble://model/org/name?", link("org/name", None)),
            ("Qwen/Qwen3-0.6B", link("Qwen/Qwen3-0.6B", None)),
        ];
        for (input, expected) in cases {
            assert_eq!(ModelLink::parse(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn refuses_malformed_and_hostile_links() {
        let cases = [
            ("", "namespace"),
            ("search", "namespace"),
            ("https://huggingface.co/org/name", "scheme"),
            ("hubble://dataset/org/name", "only model links"),
            ("hubble://model/", "invalid repository id"),
            ("hubble://model/org/name/extra", "invalid repository id"),
            ("hubble://model/../../etc/passwd", "invalid repository id"),
            ("hubble://model/org/na%2Fme", "invalid repository id"),
            ("hubble://model/org/name#x", "fragments"),
            ("hubble://model/org/name?rev=main", "unknown parameter"),
            (
                "hubble://model/org/name?revision=a&revision=b",
                "given twice",
            ),
            ("hubble://model/org/name?revision=", "1 to 256"),
            ("hubble://model/org/name?revision=../x", "not a valid ref"),
            ("hubble://model/org/name?revision=a%00b", "letters, digits"),
            ("hubble://model/org/name?revision=a%20b", "letters, digits"),
            ("org/name\n--help", "control characters"),
            ("org/name/more", "invalid repository id"),
        ];
        for (input, reason) in cases {
            let error = ModelLink::parse(input).expect_err(input);
            assert!(
                error.to_string().contains(reason),
                "{input}: {error} should say {reason}"
            );
        }
        let long = format!("hubble://model/org/{}", "a".repeat(600));
        assert!(
            ModelLink::parse(&long)
                .unwrap_err()
                .reason
                .contains("too long")
        );
    }

    #[test]
    fn urls_round_trip() {
        for input in [
            "hubble://model/org/name",
            "hubble://model/org/name?revision=refs%2Fpr%2F1",
        ] {
            let parsed = ModelLink::parse(input).unwrap();
            assert_eq!(parsed.to_url(), input);
            assert_eq!(ModelLink::parse(&parsed.to_url()), Ok(parsed));
        }
    }
}
