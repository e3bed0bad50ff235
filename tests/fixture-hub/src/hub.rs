//! The server handle: options, start/stop on a background thread, shared state.

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::faults::Faults;
use crate::http::{self, Handler, Reply, Request, Response};
use crate::recorded::{RecordedRoute, recorded_routes};
use crate::repos::{Repo, StoredRepo};

/// How a [`FixtureHub`] is set up.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// The repositories served. Defaults to [`crate::default_repos`] (reads the fixtures).
    pub repos: Vec<Repo>,
    /// Page size of `/api/models` when the request has no `limit`. Default 50.
    pub page_size_default: usize,
    /// Entries per page of `/api/models/{id}/tree/…`. Default 50.
    pub tree_page_size: usize,
    /// If set (`http://127.0.0.1:PORT`, no trailing slash), resolving an LFS file answers
    /// `302 Location: <base>/cdn/<sha256>`, e.g. to a second hub acting as the CDN.
    pub lfs_redirect_base: Option<String>,
    /// The one token the hub accepts: it unlocks gated repos and `/api/whoami-v2`. Any other
    /// bearer token is a valid user without access (gated resolves answer 403).
    pub require_token: Option<String>,
    /// Port to listen on, on 127.0.0.1; 0 (the default) picks a free one.
    pub port: u16,
    /// Ignore `Range` headers and always answer `200` with the whole file, as olah does.
    pub ignore_range: bool,
    /// If set, each file body (resolve, CDN) is sent at most this many bytes per second, so a
    /// test can act in the middle of a transfer.
    pub throttle_bytes_per_sec: Option<u64>,
}

impl Default for HubOptions {
    fn default() -> HubOptions {
        HubOptions {
            repos: crate::default_repos(),
            page_size_default: 50,
            tree_page_size: 50,
            lfs_redirect_base: None,
            require_token: None,
            port: 0,
            ignore_range: false,
            throttle_bytes_per_sec: None,
        }
    }
}

/// One request as the hub received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Decoded path, without the query.
    pub path: String,
    /// Path and query exactly as sent.
    pub raw_target: String,
    /// Decoded query pairs, in order, repeated keys kept.
    pub query: Vec<(String, String)>,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query key, in order.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Mutable server state.
pub(crate) struct State {
    pub repos: BTreeMap<String, Arc<StoredRepo>>,
    /// Former id → current id.
    pub aliases: BTreeMap<String, String>,
    faults: Faults,
    requests: Vec<RecordedRequest>,
}

impl State {
    fn insert(&mut self, repo: Repo) {
        let stored = StoredRepo::new(repo);
        let key = stored.key();
        for old in &stored.renamed_from {
            self.aliases.insert(stored.kind.key(old), key.clone());
        }
        self.aliases.remove(&key);
        self.repos.insert(key, Arc::new(stored));
    }
}

/// What request handlers see.
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub page_size_default: usize,
    pub tree_page_size: usize,
    pub lfs_redirect_base: Option<String>,
    pub require_token: Option<String>,
    pub ignore_range: bool,
    pub throttle: Option<u64>,
    pub recorded_routes: Vec<RecordedRoute>,
    state: Mutex<State>,
    bytes_sent: AtomicU64,
    request_count: AtomicU64,
}

impl Shared {
    /// The request's `Range` header, unless the hub ignores ranges.
    pub fn range<'a>(&self, request: &'a Request) -> Option<&'a str> {
        if self.ignore_range {
            None
        } else {
            request.header("range")
        }
    }

    /// Locks the state (a panicking holder cannot leave it inconsistent, so poison is ignored).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Handler for Shared {
    fn handle(&self, request: &Request) -> Reply {
        let fault = {
            let mut state = self.state();
            state.requests.push(RecordedRequest {
                method: request.method.clone(),
                path: request.path.clone(),
                raw_target: request.raw_target.clone(),
                query: request.query.clone(),
                headers: request.headers.clone(),
            });
            state.faults.take()
        };
        let mut response = match fault {
            Some(Reply::Stall) => return Reply::Stall,
            Some(Reply::Respond(response)) => response,
            None => crate::routes::route(self, request),
        };
        if response.has_content_body() && request.method != "HEAD" {
            response.body_fault = self.state().faults.take_body();
        }
        Reply::Respond(self.finish(response))
    }

    fn finish(&self, response: Response) -> Response {
        let n = self.request_count.fetch_add(1, Ordering::Relaxed) + 1;
        response
            .default_header("X-Request-Id", &format!("Root=1-00000000-{n:024x}"))
            .default_header("X-Powered-By", "huggingface-moon")
            .default_header(
                "Access-Control-Expose-Headers",
                "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,\
                 Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash",
            )
            .default_header("Access-Control-Allow-Origin", "https://huggingface.co")
            .default_header("Vary", "Origin")
            .default_header("Date", &crate::util::http_date_now())
    }

    fn body_bytes_sent(&self, count: u64) {
        self.bytes_sent.fetch_add(count, Ordering::Relaxed);
    }

    fn throttle(&self) -> Option<u64> {
        self.throttle
    }
}

/// A running fixture hub on 127.0.0.1. It serves from its own thread and runtime, so it works
/// from plain `#[test]` functions; dropping it stops the server and closes every connection.
pub struct FixtureHub {
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FixtureHub {
    /// Starts a hub serving [`crate::default_repos`] with default options.
    ///
    /// # Panics
    /// If the fixtures cannot be read or no port can be bound.
    pub fn start() -> FixtureHub {
        FixtureHub::start_with(HubOptions::default())
    }

    /// Starts a hub with `options`.
    ///
    /// # Panics
    /// If the port cannot be bound, or the recordings a served repo needs cannot be read.
    pub fn start_with(options: HubOptions) -> FixtureHub {
        let listener = StdListener::bind(("127.0.0.1", options.port))
            .unwrap_or_else(|e| panic!("fixture hub: cannot bind 127.0.0.1:{}: {e}", options.port));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(options.port);
        listener
            .set_nonblocking(true)
            .expect("fixture hub: set_nonblocking");
        let ids: Vec<&str> = options.repos.iter().map(|r| r.id.as_str()).collect();
        let recorded_routes = recorded_routes(&ids);
        let mut state = State {
            repos: BTreeMap::new(),
            aliases: BTreeMap::new(),
            faults: Faults::default(),
            requests: Vec::new(),
        };
        for repo in options.repos {
            state.insert(repo);
        }
        let shared = Arc::new(Shared {
            base_url: format!("http://127.0.0.1:{port}"),
            page_size_default: options.page_size_default.max(1),
            tree_page_size: options.tree_page_size.max(1),
            lfs_redirect_base: options.lfs_redirect_base,
            require_token: options.require_token,
            ignore_range: options.ignore_range,
            throttle: options.throttle_bytes_per_sec,
            recorded_routes,
            state: Mutex::new(state),
            bytes_sent: AtomicU64::new(0),
            request_count: AtomicU64::new(0),
        });
        let (shutdown, stop) = oneshot::channel();
        let handler = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fixture-hub-{port}"))
            .spawn(move || run(listener, handler, stop))
            .expect("fixture hub: spawn thread");
        FixtureHub {
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Every request received so far, in arrival order (faulted and stalled ones included;
    /// unparseable ones are not).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.state().requests.clear();
    }

    /// Adds a repository, replacing one with the same id.
    pub fn add_repo(&self, repo: Repo) {
        self.shared.state().insert(repo);
    }

    /// Replaces the fault settings; they apply to requests received from now on.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.state().faults = faults;
    }

    /// Total response body bytes handed to sockets so far (HEAD answers count 0). Counted
    /// before each write, so after a client has read N body bytes this is at least N.
    pub fn bytes_served(&self) -> u64 {
        self.shared.bytes_sent.load(Ordering::Relaxed)
    }
}

impl Drop for FixtureHub {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: accepts connections until `stop` fires, then drops the runtime, which
/// cancels every connection task and closes their sockets.
fn run(listener: StdListener, handler: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fixture-hub-worker")
        .enable_all()
        .build()
        .expect("fixture hub: tokio runtime");
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("fixture hub: {e}");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = &mut stop => return,
                accepted = listener.accept() => {
                    match accepted {
                        Ok((stream, _)) => {
                            tokio::spawn(http::serve_connection(stream, handler.clone()));
                        }
                        // e.g. out of file descriptors: back off instead of spinning
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
}
