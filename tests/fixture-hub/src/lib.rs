//! A loopback HTTP/1.1 server that speaks the Hugging Face Hub protocol, for Hubble's tests.
//!
//! It serves the real recorded responses in `fixtures/hub-api/` and one synthetic repository
//! per real model card in `fixtures/cards/` (see [`fixtures_dir`]), plus a few small repos
//! built for protocol tests. Endpoints:
//!
//! - `GET /api/models/{id}[/revision/{rev}]` — model info (`blobs=true`, `expand[]=…`);
//!   a renamed id answers 307 with a relative `Location`.
//! - `GET /api/models/{id}/tree/{rev}[/{path}]` — tree listing (`recursive`, `expand`), paged
//!   with `Link: <…>; rel="next"`.
//! - `GET /api/models?…` — search (`search`, `author`, `filter`, `pipeline_tag`, `gated`,
//!   `num_parameters`, `apps`, `sort`, `limit`, `expand[]`, `full`, `config`), paged the same way.
//! - `GET|HEAD /{id}/resolve/{rev}/{path}` — file bytes with `Range`, Hub headers and errors;
//!   `/api/resolve-cache/models/{id}/{sha}/{path}` and `/cdn/{sha256}` serve the redirected flavours.
//! - `GET /api/models/{id}/refs`, `/commits/{rev}`, `/discussions` (shapes from the Hub API docs).
//! - The same under `/api/datasets/…` and `/api/spaces/…`, listings `/api/datasets?…` and
//!   `/api/spaces?…` (`models=` too), dataset files at `/datasets/{id}/resolve/{rev}/{path}`, and
//!   the dataset viewer's `/splits` and `/first-rows`; `/api/collections[/{slug}]`.
//! - `GET /api/whoami-v2`.
//!
//! Every request is recorded ([`FixtureHub::requests`]) and faults can be injected
//! ([`FixtureHub::set_faults`]).
//!
//! ```no_run
//! let hub = fixture_hub::FixtureHub::start();
//! let url = format!("{}/api/models?search=bert&limit=5", hub.url());
//! # let _ = url;
//! ```

mod cards;
mod catalog;
mod catalog_hub;
mod collections;
mod community;
mod faults;
mod files;
mod git;
mod http;
mod hub;
mod paging;
mod recorded;
mod repos;
mod routes;
mod search;
mod util;
mod viewer;

use std::path::PathBuf;

pub use cards::card_repos;
pub use catalog::{default_repos, synthetic_repos, test_repos};
pub use faults::Faults;
pub use hub::{FixtureHub, HubOptions, RecordedRequest};
pub use recorded::recorded_repos;
pub use repos::{Discussion, FileContent, Gated, Recorded, Repo, RepoFile, RepoKind, Revision};
pub use routes::USER_NAME;

/// The shared fixtures folder (holding `hub-api/` and `cards/`): `$HUBBLE_FIXTURES` if set,
/// else `shared/fixtures` beside the repository checkout (`<repo>/../shared/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("HUBBLE_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    }
}
