//! A repository's Community tab (`/api/{type}/{id}/discussions`) and the Spaces listing
//! (`/api/spaces?search=&models=`).

use serde::{Deserialize, Serialize};

use super::http::HubRequest;
use super::{HubClient, HubError, RepoId, RepoType};

/// Who opened a discussion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscussionAuthor {
    /// Hub user name.
    #[serde(default)]
    pub name: String,
}

/// A discussion or pull request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discussion {
    /// Its number (`/discussions/N`).
    #[serde(default)]
    pub num: u64,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// `open`, `closed`, `merged` or `draft`.
    #[serde(default)]
    pub status: String,
    /// Whether it is a pull request.
    #[serde(default, rename(deserialize = "isPullRequest"))]
    pub is_pull_request: bool,
    /// Who opened it (`None` for deleted users).
    #[serde(default)]
    pub author: Option<DiscussionAuthor>,
    /// When (RFC 3339).
    #[serde(default, rename(deserialize = "createdAt"))]
    pub created_at: Option<String>,
    /// Comments so far.
    #[serde(default, rename(deserialize = "numComments"))]
    pub num_comments: u64,
}

/// The first page of a Community tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discussions {
    /// Newest first.
    #[serde(default)]
    pub discussions: Vec<Discussion>,
    /// How many there are in all.
    #[serde(default)]
    pub count: u64,
    /// How many are closed or merged.
    #[serde(default, rename(deserialize = "numClosedDiscussions"))]
    pub num_closed: u64,
}

/// A Space as the listing describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpaceInfo {
    /// `org/name`.
    pub id: String,
    /// `gradio`, `streamlit`, `docker` or `static`.
    #[serde(default)]
    pub sdk: Option<String>,
    /// Likes.
    #[serde(default)]
    pub likes: Option<u64>,
    /// Last commit time (RFC 3339).
    #[serde(default, rename(deserialize = "lastModified"))]
    pub last_modified: Option<String>,
    /// The models it declares it uses.
    #[serde(default)]
    pub models: Vec<String>,
}

/// A Space search. Empty fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceQuery {
    /// Free text matched against ids.
    pub search: Option<String>,
    /// Only Spaces using this model.
    pub model: Option<String>,
    /// How many to return.
    pub limit: usize,
}

impl HubClient {
    /// The first page (50, newest first) of `repo`'s discussions and pull requests.
    pub async fn list_discussions(
        &self,
        repo_type: RepoType,
        repo: &RepoId,
    ) -> Result<Discussions, HubError> {
        self.ensure_online(&format!("listing the discussions of {repo}"))?;
        let path = format!("/api/{}/{repo}/discussions?p=0", repo_type.plural());
        let request = HubRequest::get(self, self.url(&path)?).about(repo.as_str(), None, None);
        self.json(&request).await
    }

    /// Spaces matching `query`, most liked first.
    pub async fn search_spaces(&self, query: &SpaceQuery) -> Result<Vec<SpaceInfo>, HubError> {
        self.ensure_online("searching Spaces")?;
        let limit = query.limit.clamp(1, 1000);
        let mut url = self.url("/api/spaces")?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
                pairs.append_pair("search", search);
            }
            if let Some(model) = query.model.as_deref().filter(|s| !s.is_empty()) {
                pairs.append_pair("models", model);
            }
            pairs.append_pair("sort", "likes");
            pairs.append_pair("limit", &limit.to_string());
        }
        self.json_pages(HubRequest::get(self, url), limit).await
    }
}
