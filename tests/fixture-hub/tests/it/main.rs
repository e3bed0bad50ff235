//! End-to-end tests of the fixture hub over real sockets.

mod api;
mod client;
mod resolve;
mod search;
mod server;

use fixture_hub::{FixtureHub, HubOptions};

/// Number of repos in the default catalogue: 5 recorded, 30 cards, 5 test repos.
const DEFAULT_REPO_COUNT: usize = 40;

/// A hub with the default repos and `token` accepted.
fn hub_with_token(token: &str) -> FixtureHub {
    FixtureHub::start_with(HubOptions {
        require_token: Some(token.to_owned()),
        ..HubOptions::default()
    })
}

/// Reads a fixture file.
fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(fixture_hub::fixtures_dir().join(relative)).unwrap()
}
