//! The background side of the app: a small tokio runtime that runs Hub requests and cache reads,
//! and sends each result back over a channel, waking the UI with `request_repaint`.
//!
//! The UI thread only ever calls [`Worker::submit`] (which spawns and returns at once) and
//! [`Worker::poll`] (a non-blocking `try_recv`). Every job has a [`RequestId`]; a view keeps
//! the [`Ticket`] of the request it is waiting for and drops replies with any other id, and
//! cancelling a ticket aborts its task. The system probe (blocking, up to a second) also runs
//! here, once; [`Worker::system`] reads its result without waiting.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use eframe::egui;
use url::Url;

use crate::cache::{CachedRepo, cached_models};
use crate::card::{License, ModelCard};
use crate::config::HubConfig;
use crate::datasets::{PreviewError, PreviewRequest, load_preview};
use crate::fit::FitError;
use crate::fit::read::{ModelFit, read_fit};
use crate::fit::system::SystemInfo;
use crate::hub::{
    Collection, CollectionQuery, DatasetInfo, DatasetQuery, Discussions, GitRefs, HubClient,
    HubError, ModelInfo, ModelPage, ModelQuery, RepoId, RepoType, Sibling, SpaceInfo, SpaceQuery,
};
use crate::ui::browse::dataset_preview::PreviewTable;
use crate::ui::r#try::stream_pace::StreamPace;

/// Identifies one submitted job; replies carry it back.
pub type RequestId = u64;

/// How many Spaces using a model the model page lists.
const SPACES_SHOWN: usize = 20;

/// Largest model card read (the biggest real ones are a few hundred kB).
const MAX_CARD_BYTES: usize = 16 * 1024 * 1024;

/// Work the UI asks for.
#[derive(Debug, Clone)]
pub enum Job {
    /// The first page of a search.
    Search(ModelQuery),
    /// The page after the current one (a `Link: rel="next"` URL).
    NextPage(Url),
    /// The models in the hub cache whose id contains the text (offline browsing).
    Cached(String),
    /// Model info (with file sizes) at a revision, from the cache when the Hub can't be reached.
    Model(RepoId, String),
    /// The model card (README.md) at a revision, from the cache when the Hub can't be reached.
    Card(RepoId, String),
    /// A model's weights (file headers by HTTP Range) and shape, for the Fit tab: the model
    /// info already loaded, and the weight file to size (`None`: the default choice).
    Fit(RepoId, Box<ModelInfo>, Option<String>),
    /// A model's branches and tags (the revision picker).
    Refs(RepoId),
    /// A model's discussions and pull requests (the Community tab).
    Discussions(RepoId),
    /// The Spaces that use a model.
    Spaces(RepoId),
    /// A Spaces search (the Spaces view), answered as [`Outcome::Spaces`].
    SearchSpaces(SpaceQuery),
    /// Dataset info (facets, files with sizes).
    Dataset(RepoId),
    /// A dataset's card (README.md) at `main`, answered as [`Outcome::Card`].
    DatasetCard(RepoId),
    /// A dataset's first rows: the viewer, else the downloaded files.
    DatasetPreview(PreviewRequest),
    /// A dataset search.
    SearchDatasets(DatasetQuery),
    /// A collections search.
    SearchCollections(CollectionQuery),
    /// One collection with every item, by slug.
    Collection(String),
}

/// A model's details and where they came from.
#[derive(Debug, Clone)]
pub struct ModelData {
    /// The Hub's model info, or what the cache knows (id, commit, files).
    pub info: ModelInfo,
    /// Whether it came from the local cache.
    pub from_cache: bool,
}

/// A parsed card, its license and where it came from.
#[derive(Debug, Clone)]
pub struct CardData {
    /// The parsed card.
    pub card: ModelCard,
    /// Its classified license.
    pub license: License,
    /// Whether the text came from the local cache.
    pub from_cache: bool,
}

/// The result of a job.
#[derive(Debug)]
pub enum Outcome {
    /// For [`Job::Search`], [`Job::NextPage`] and [`Job::Cached`] (which has no next page).
    Page(Result<ModelPage, HubError>),
    /// For [`Job::Model`].
    Model(Result<ModelData, HubError>),
    /// For [`Job::Card`].
    Card(Result<CardData, HubError>),
    /// For [`Job::Fit`].
    Fit(Result<Box<ModelFit>, FitError>),
    /// For [`Job::Refs`].
    Refs(Result<GitRefs, HubError>),
    /// For [`Job::Discussions`].
    Discussions(Result<Discussions, HubError>),
    /// For [`Job::Spaces`] and [`Job::SearchSpaces`].
    Spaces(Result<Vec<SpaceInfo>, HubError>),
    /// For [`Job::Dataset`].
    Dataset(Result<DatasetInfo, HubError>),
    /// For [`Job::DatasetPreview`]: the rows with their media cells already decoded.
    Preview(Result<Box<PreviewTable>, PreviewError>),
    /// For [`Job::SearchDatasets`].
    Datasets(Result<Vec<DatasetInfo>, HubError>),
    /// For [`Job::SearchCollections`].
    Collections(Result<Vec<Collection>, HubError>),
    /// For [`Job::Collection`].
    Collection(Result<Collection, HubError>),
}

/// A job's result, tagged with the id it was submitted under.
#[derive(Debug)]
pub struct Reply {
    /// The id from [`Ticket::id`].
    pub id: RequestId,
    /// What came back.
    pub outcome: Outcome,
}

/// A submitted job: its id, and a handle to abort it.
#[derive(Debug)]
pub struct Ticket {
    /// The id its reply will carry.
    pub id: RequestId,
    handle: tokio::task::AbortHandle,
}

impl Ticket {
    /// Aborts the job; a reply already sent is still delivered, and must be dropped by id.
    pub fn cancel(&self) {
        self.handle.abort();
    }
}

/// The client every job and the image loader use; replaced when the settings change.
pub type SharedClient = Arc<Mutex<Result<HubClient, String>>>;

/// Runs jobs on background threads and hands their replies to the UI thread.
pub struct Worker {
    runtime: tokio::runtime::Runtime,
    client: SharedClient,
    config: HubConfig,
    sender: Sender<Reply>,
    receiver: Receiver<Reply>,
    next_id: RequestId,
    ctx: egui::Context,
    system: Arc<OnceLock<SystemInfo>>,
    stream_pace: StreamPace,
}

impl Worker {
    /// Starts the runtime (two worker threads) for `config`; `ctx` is woken after each reply.
    ///
    /// # Panics
    /// If the operating system refuses to start threads.
    pub fn new(config: HubConfig, ctx: egui::Context) -> Worker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hubble-worker")
            .enable_all()
            .build()
            .expect("could not start the background runtime");
        let (sender, receiver) = channel();
        let client = Arc::new(Mutex::new(
            HubClient::new(config.clone()).map_err(|e| e.to_string()),
        ));
        Worker {
            runtime,
            client,
            config,
            sender,
            receiver,
            next_id: 0,
            ctx,
            system: Arc::new(OnceLock::new()),
            stream_pace: StreamPace::default(),
        }
    }

    /// How soon streamed output (tokens) is painted; set once the renderer is known.
    pub fn set_stream_pace(&mut self, pace: StreamPace) {
        self.stream_pace = pace;
    }

    /// How soon streamed output is painted on this renderer.
    pub fn stream_pace(&self) -> StreamPace {
        self.stream_pace
    }

    /// Probes this machine (CPU, RAM, GPUs) on a blocking thread, once; [`Worker::system`]
    /// answers `None` until it is done, then the UI is woken.
    pub fn probe_system(&self) {
        let slot = self.system.clone();
        let ctx = self.ctx.clone();
        let probe = self.runtime.spawn_blocking(SystemInfo::probe);
        self.runtime.spawn(async move {
            let system = probe
                .await
                .unwrap_or_else(|_| SystemInfo::unknown("the system probe failed"));
            // A system given with `set_system` first wins.
            let _ = slot.set(system);
            ctx.request_repaint();
        });
    }

    /// Uses `system` instead of probing (tests, for deterministic verdicts); only before a
    /// probe has finished.
    pub fn set_system(&self, system: SystemInfo) {
        let _ = self.system.set(system);
    }

    /// The probed (or given) system, once known.
    pub fn system(&self) -> Option<&SystemInfo> {
        self.system.get()
    }

    /// The configuration jobs run with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Switches to a new configuration (endpoint, cache, token); running jobs keep the old one.
    pub fn set_config(&mut self, config: HubConfig) {
        *lock(&self.client) = HubClient::new(config.clone()).map_err(|e| e.to_string());
        self.config = config;
    }

    /// The current client, or why none could be built (a bad endpoint URL).
    pub fn client(&self) -> Result<HubClient, String> {
        lock(&self.client).clone()
    }

    /// The client handle, shared with the card image loader.
    pub fn shared_client(&self) -> SharedClient {
        self.client.clone()
    }

    /// A handle to the runtime, for the image loader.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Starts `job` in the background and returns at once.
    pub fn submit(&mut self, job: Job) -> Ticket {
        self.next_id += 1;
        let id = self.next_id;
        let client = lock(&self.client).clone();
        let hub_cache = self.config.hub_cache.clone();
        let sender = self.sender.clone();
        let ctx = self.ctx.clone();
        let task = self.runtime.spawn(async move {
            let outcome = run(job, client, hub_cache).await;
            // The receiver only goes away when the app closes.
            let _ = sender.send(Reply { id, outcome });
            ctx.request_repaint();
        });
        Ticket {
            id,
            handle: task.abort_handle(),
        }
    }

    /// Every reply that has arrived, without waiting.
    pub fn poll(&self) -> Vec<Reply> {
        self.receiver.try_iter().collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn run(job: Job, client: Result<HubClient, String>, hub_cache: PathBuf) -> Outcome {
    let client = match client {
        Ok(client) => client,
        Err(message) => {
            let error = || HubError::InvalidInput(message.clone());
            return match job {
                Job::Search(_) | Job::NextPage(_) => Outcome::Page(Err(error())),
                Job::Cached(filter) => Outcome::Page(Ok(cached_page(hub_cache, filter).await)),
                Job::Model(..) => Outcome::Model(Err(error())),
                Job::Refs(_) => Outcome::Refs(Err(error())),
                Job::Discussions(_) => Outcome::Discussions(Err(error())),
                Job::Spaces(_) | Job::SearchSpaces(_) => Outcome::Spaces(Err(error())),
                Job::Dataset(_) => Outcome::Dataset(Err(error())),
                Job::SearchDatasets(_) => Outcome::Datasets(Err(error())),
                Job::SearchCollections(_) => Outcome::Collections(Err(error())),
                Job::Collection(_) => Outcome::Collection(Err(error())),
                Job::DatasetCard(_) => Outcome::Card(Err(error())),
                Job::DatasetPreview(_) => {
                    Outcome::Preview(Err(PreviewError::Unreadable(message.clone())))
                }
                Job::Card(..) => Outcome::Card(Err(error())),
                Job::Fit(..) => Outcome::Fit(Err(error().into())),
            };
        }
    };
    match job {
        Job::Search(query) => Outcome::Page(client.search_models(&query).await),
        Job::NextPage(url) => Outcome::Page(client.next_models_page(&url).await),
        Job::Cached(filter) => Outcome::Page(Ok(cached_page(hub_cache, filter).await)),
        Job::Model(repo, revision) => Outcome::Model(model(&client, &repo, &revision).await),
        Job::Refs(repo) => Outcome::Refs(client.list_refs(RepoType::Model, &repo).await),
        Job::Discussions(repo) => {
            Outcome::Discussions(client.list_discussions(RepoType::Model, &repo).await)
        }
        Job::Spaces(repo) => Outcome::Spaces(
            client
                .search_spaces(&SpaceQuery {
                    model: Some(repo.to_string()),
                    limit: SPACES_SHOWN,
                    ..SpaceQuery::default()
                })
                .await,
        ),
        Job::SearchSpaces(query) => Outcome::Spaces(client.search_spaces(&query).await),
        Job::Card(repo, revision) => {
            Outcome::Card(card(&client, RepoType::Model, &repo, &revision).await)
        }
        Job::Dataset(repo) => Outcome::Dataset(client.dataset_info(&repo, None).await),
        Job::SearchDatasets(query) => Outcome::Datasets(client.search_datasets(&query).await),
        Job::SearchCollections(query) => {
            Outcome::Collections(client.search_collections(&query).await)
        }
        Job::Collection(slug) => Outcome::Collection(client.collection(&slug).await),
        Job::DatasetCard(repo) => {
            Outcome::Card(card(&client, RepoType::Dataset, &repo, "main").await)
        }
        Job::DatasetPreview(request) => Outcome::Preview(
            load_preview(&client, &request)
                .await
                .map(|preview| Box::new(PreviewTable::new(preview))),
        ),
        Job::Fit(repo, info, file) => Outcome::Fit(
            read_fit(&client, &repo, &info, file.as_deref())
                .await
                .map(Box::new),
        ),
    }
}

/// Whether an error means the Hub can't be reached (so the cache should be used instead).
pub fn is_unreachable(error: &HubError) -> bool {
    matches!(
        error,
        HubError::Offline { .. } | HubError::Connection { .. } | HubError::Timeout { .. }
    )
}

async fn model(client: &HubClient, repo: &RepoId, revision: &str) -> Result<ModelData, HubError> {
    match client.model_info(repo, Some(revision)).await {
        Ok(info) => Ok(ModelData {
            info,
            from_cache: false,
        }),
        Err(error) if is_unreachable(&error) => {
            let hub_cache = client.config().hub_cache.clone();
            let repo = repo.clone();
            let revision = revision.to_owned();
            let cached =
                tokio::task::spawn_blocking(move || cached_info(&hub_cache, &repo, &revision))
                    .await
                    .ok()
                    .flatten();
            cached
                .map(|info| ModelData {
                    info,
                    from_cache: true,
                })
                .ok_or(error)
        }
        Err(error) => Err(error),
    }
}

async fn card(
    client: &HubClient,
    repo_type: RepoType,
    repo: &RepoId,
    revision: &str,
) -> Result<CardData, HubError> {
    let text = match client
        .fetch_repo_file(repo_type, repo, Some(revision), "README.md", MAX_CARD_BYTES)
        .await
    {
        Ok(text) => Ok((text, false)),
        Err(error) if is_unreachable(&error) => {
            let file = CachedRepo::of_type(&client.config().hub_cache, repo_type, repo)
                .snapshot_file(revision, "README.md");
            match file.and_then(|f| std::fs::read(f).ok()) {
                Some(text) => Ok((text, true)),
                None => Err(error),
            }
        }
        Err(error) => Err(error),
    }?;
    let (text, from_cache) = text;
    let card = ModelCard::parse(&String::from_utf8_lossy(&text));
    Ok(CardData {
        license: card.license(),
        card,
        from_cache,
    })
}

/// What the cache knows about a repo: id, commit and the files of its `revision` snapshot (or,
/// for `main`, of its only snapshot), plus task, library, license and tags from the cached card.
fn cached_info(hub_cache: &std::path::Path, repo: &RepoId, revision: &str) -> Option<ModelInfo> {
    let cached = CachedRepo::new(hub_cache, repo);
    let revision = cached.resolve_revision(revision).or_else(|| {
        (revision == "main")
            .then(|| only_snapshot(&cached))
            .flatten()
    })?;
    let files = cached.snapshot_files(&revision)?;
    let mut info = ModelInfo {
        id: repo.as_str().to_string(),
        author: repo.namespace().map(str::to_string),
        sha: Some(revision.clone()),
        siblings: files
            .into_iter()
            .map(|(path, size)| Sibling {
                path,
                size: Some(size),
                blob_id: None,
                lfs: None,
            })
            .collect(),
        ..ModelInfo::default()
    };
    if let Some(text) = cached
        .snapshot_file(&revision, "README.md")
        .and_then(|f| std::fs::read_to_string(f).ok())
    {
        let meta = ModelCard::parse(&text).metadata;
        info.pipeline_tag = meta.pipeline_tag;
        info.library_name = meta.library_name;
        info.tags = meta.tags;
        if let Some(license) = meta.license {
            info.tags.push(format!("license:{license}"));
        }
    }
    Some(info)
}

fn only_snapshot(cached: &CachedRepo) -> Option<String> {
    let mut snapshots = std::fs::read_dir(cached.folder().join("snapshots"))
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok());
    let first = snapshots.next()?;
    snapshots.next().is_none().then_some(first)
}

async fn cached_page(hub_cache: PathBuf, filter: String) -> ModelPage {
    let models = tokio::task::spawn_blocking(move || {
        let filter = filter.trim().to_lowercase();
        cached_models(&hub_cache)
            .into_iter()
            .filter(|m| m.repo.as_str().to_lowercase().contains(&filter))
            .map(|m| {
                let mut info =
                    cached_info(&hub_cache, &m.repo, "main").unwrap_or_else(|| ModelInfo {
                        id: m.repo.as_str().to_string(),
                        ..ModelInfo::default()
                    });
                info.siblings.clear();
                info.last_modified = m.modified.map(|t| {
                    chrono::DateTime::<chrono::Utc>::from(t)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                });
                info
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    ModelPage { models, next: None }
}
