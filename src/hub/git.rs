//! A repository's git refs (branches, tags) and commit history:
//! `/api/{type}/{id}/refs` and `/api/{type}/{id}/commits/{rev}`.

use serde::{Deserialize, Serialize};

use super::http::HubRequest;
use super::{HubClient, HubError, RepoId, RepoType, encode_revision};

/// A branch, tag or conversion ref and the commit it points to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRef {
    /// Short name: `main`, `v1.0`.
    #[serde(default)]
    pub name: String,
    /// Full ref: `refs/heads/main`, `refs/tags/v1.0`.
    #[serde(default, rename = "ref")]
    pub git_ref: String,
    /// The commit sha.
    #[serde(default, rename(deserialize = "targetCommit"))]
    pub target_commit: String,
}

/// Every ref of a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitRefs {
    /// Branches (`main` first on the Hub).
    #[serde(default)]
    pub branches: Vec<GitRef>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<GitRef>,
    /// Conversion refs (`refs/convert/parquet` of datasets).
    #[serde(default)]
    pub converts: Vec<GitRef>,
}

impl GitRefs {
    /// Branch names, then tag names: what a revision picker offers.
    pub fn names(&self) -> Vec<String> {
        self.branches
            .iter()
            .chain(&self.tags)
            .map(|r| r.name.clone())
            .collect()
    }
}

/// A commit author.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitAuthor {
    /// Hub user name.
    #[serde(default)]
    pub user: String,
}

/// One commit of a revision's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitCommit {
    /// The commit sha.
    #[serde(default)]
    pub id: String,
    /// First line of the message.
    #[serde(default)]
    pub title: String,
    /// The rest of the message.
    #[serde(default)]
    pub message: String,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<CommitAuthor>,
    /// Commit time (RFC 3339).
    #[serde(default)]
    pub date: Option<String>,
}

impl HubClient {
    /// The branches and tags of `repo`.
    pub async fn list_refs(&self, repo_type: RepoType, repo: &RepoId) -> Result<GitRefs, HubError> {
        self.ensure_online(&format!("listing the revisions of {repo}"))?;
        let path = format!("/api/{}/{repo}/refs", repo_type.plural());
        let request = HubRequest::get(self, self.url(&path)?).about(repo.as_str(), None, None);
        self.json(&request).await
    }

    /// The newest `limit` commits of `revision` (newest first).
    pub async fn list_commits(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
        revision: &str,
        limit: usize,
    ) -> Result<Vec<GitCommit>, HubError> {
        self.ensure_online(&format!("listing the commits of {repo}"))?;
        let path = format!(
            "/api/{}/{repo}/commits/{}",
            repo_type.plural(),
            encode_revision(revision)
        );
        let request =
            HubRequest::get(self, self.url(&path)?).about(repo.as_str(), Some(revision), None);
        self.json_pages(request, limit).await
    }
}
