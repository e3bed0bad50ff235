//! Repository ids and the URL encoding of revisions and file paths.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::HubError;

/// Characters Python's `urllib.parse.quote(s, safe="")` leaves alone.
const QUOTE_SAFE_NOTHING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Like [`QUOTE_SAFE_NOTHING`] but keeps `/`, as `quote(path)` does for file paths.
const QUOTE_PATH: &AsciiSet = &QUOTE_SAFE_NOTHING.remove(b'/');

/// A validated model repository id: `name` or `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RepoId(String);

impl RepoId {
    /// Validates `id` with huggingface_hub's rules: at most one `/`, only letters, digits, `-`,
    /// `_` and `.`, no `--` or `..`, no leading/trailing `-` or `.`, at most 96 characters.
    pub fn parse(id: &str) -> Result<RepoId, HubError> {
        let invalid = |why: &str| {
            HubError::InvalidInput(format!(
                "{id:?} is not a valid repository id ({why}). Use the form org/name, e.g. google-bert/bert-base-uncased."
            ))
        };
        if id.is_empty() || id.len() > 96 {
            return Err(invalid("it must have 1 to 96 characters"));
        }
        if id.contains("--") || id.contains("..") {
            return Err(invalid("\"--\" and \"..\" are not allowed"));
        }
        let parts: Vec<&str> = id.split('/').collect();
        if parts.len() > 2 {
            return Err(invalid("it has more than one \"/\""));
        }
        for part in &parts {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if part.is_empty() || !part.chars().all(allowed) {
                return Err(invalid(
                    "only letters, digits, '-', '_' and '.' are allowed",
                ));
            }
            if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
                return Err(invalid("a part can't start or end with '-' or '.'"));
            }
        }
        Ok(RepoId(id.to_string()))
    }

    /// The id as written, e.g. `google-bert/bert-base-uncased`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The namespace (user or organisation), if the id has one.
    pub fn namespace(&self) -> Option<&str> {
        self.0.split_once('/').map(|(ns, _)| ns)
    }

    /// The repository's name without its namespace.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RepoId {
    type Err = HubError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepoId::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for RepoId {
    /// Validates like [`RepoId::parse`] (e.g. ids read back from the download queue file).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        RepoId::parse(&id).map_err(serde::de::Error::custom)
    }
}

/// Encodes a revision for a URL path segment (`refs/pr/1` → `refs%2Fpr%2F1`).
pub fn encode_revision(revision: &str) -> String {
    utf8_percent_encode(revision, QUOTE_SAFE_NOTHING).to_string()
}

/// Encodes a file path inside a repository for a URL, keeping `/` separators.
pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, QUOTE_PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_ids_and_rejects_bad_ones() {
        for good in [
            "gpt2",
            "google-bert/bert-base-uncased",
            "Qwen/Qwen2.5-72B-Instruct",
            "a/b_c.d",
        ] {
            assert_eq!(RepoId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "a/b/c",
            "../etc",
            "a--b/c",
            "org/na me",
            "/name",
            "org/",
            "-org/x",
            "org/x.",
            "org/x?y",
            &"x".repeat(97),
        ] {
            assert!(RepoId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn splits_namespace_and_name() {
        let id = RepoId::parse("google-bert/bert-base-uncased").unwrap();
        assert_eq!(id.namespace(), Some("google-bert"));
        assert_eq!(id.name(), "bert-base-uncased");
        assert_eq!(RepoId::parse("gpt2").unwrap().namespace(), None);
    }

    #[test]
    fn encodes_like_python_quote() {
        assert_eq!(encode_revision("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_revision("v1.0-rc_2~x"), "v1.0-rc_2~x");
        assert_eq!(encode_path("onnx/model q.onnx"), "onnx/model%20q.onnx");
        assert_eq!(encode_path("a#b?.md"), "a%23b%3F.md");
    }
}
