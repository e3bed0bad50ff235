//! The Hub client library against the fixture hub: where the token goes, redirects, file
//! metadata, tree paging and whoami.

use fixture_hub::{FixtureHub, HubOptions};
use hubble::config::{HubConfig, Overrides};
use hubble::hub::{HubClient, HubError, RepoId};

const TOKEN: &str = "hf_fixture_token";

fn client(hub: &FixtureHub, token: Option<&str>) -> HubClient {
    let home = std::env::temp_dir();
    let mut config = HubConfig::from_env(&Overrides {
        endpoint: Some(hub.url()),
        cache_dir: Some(home.join("hubble-unused-cache")),
        token: token.map(str::to_string),
        offline: false,
    });
    if token.is_none() {
        config.token = None;
        config.token_source = None;
    }
    HubClient::new(config).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn repo(id: &str) -> RepoId {
    RepoId::parse(id).unwrap()
}

#[test]
fn the_token_never_follows_a_redirect_to_another_host() {
    let cdn = FixtureHub::start();
    let hub = FixtureHub::start_with(HubOptions {
        lfs_redirect_base: Some(cdn.url()),
        ..HubOptions::default()
    });
    assert_ne!(hub.url(), cdn.url(), "two loopback ports");
    let client = client(&hub, Some(TOKEN));
    let tiny = repo("hubble-tests/tiny-model");
    let bytes = runtime()
        .block_on(client.fetch_file(&tiny, None, "model.safetensors", 1 << 20))
        .unwrap();
    assert_eq!(
        u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize + 8 + 16,
        bytes.len()
    );

    let at_hub = hub.requests();
    let resolve = at_hub
        .iter()
        .find(|r| r.path.ends_with("/resolve/main/model.safetensors"))
        .expect("the hub saw the resolve request");
    assert_eq!(
        resolve.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let at_cdn = cdn.requests();
    assert_eq!(at_cdn.len(), 1, "{at_cdn:?}");
    assert!(at_cdn[0].path.starts_with("/cdn/"), "{:?}", at_cdn[0].path);
    assert_eq!(
        at_cdn[0].header("authorization"),
        None,
        "token leaked to another host"
    );
}

#[test]
fn file_metadata_reads_linked_headers_without_following_the_cdn_redirect() {
    let cdn = FixtureHub::start();
    let hub = FixtureHub::start_with(HubOptions {
        lfs_redirect_base: Some(cdn.url()),
        ..HubOptions::default()
    });
    let client = client(&hub, None);
    let rt = runtime();
    let tiny = repo("hubble-tests/tiny-model");
    let info = rt.block_on(client.model_info(&tiny, None)).unwrap();
    let lfs_file = info
        .siblings
        .iter()
        .find(|s| s.path == "model.safetensors")
        .unwrap();
    let sha256 = &lfs_file.lfs.as_ref().expect("blobs=true gives lfs").sha256;

    let meta = rt
        .block_on(client.file_metadata(&tiny, None, "model.safetensors"))
        .unwrap();
    assert_eq!(meta.etag.as_deref(), Some(sha256.as_str()));
    assert_eq!(meta.size, lfs_file.size);
    assert_eq!(meta.commit, info.sha);
    assert!(meta.location.starts_with(&cdn.url()), "{}", meta.location);
    assert!(
        cdn.requests().is_empty(),
        "HEAD must not follow the absolute redirect"
    );

    let readme = rt
        .block_on(client.file_metadata(&tiny, None, "README.md"))
        .unwrap();
    assert_eq!(readme.commit, info.sha);
    let blob = info
        .siblings
        .iter()
        .find(|s| s.path == "README.md")
        .unwrap();
    assert_eq!(readme.etag, blob.blob_id, "non-LFS etag is the git blob id");
}

#[test]
fn relative_redirects_are_followed_by_hand() {
    let hub = FixtureHub::start();
    let client = client(&hub, None);
    let rt = runtime();
    // The renamed repo answers 307 with a relative Location, as recorded from the real Hub.
    let info = rt
        .block_on(client.model_info(&repo("bert-base-uncased"), None))
        .unwrap();
    assert_eq!(info.id, "google-bert/bert-base-uncased");
    let statuses: Vec<_> = hub.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        statuses
            .iter()
            .any(|p| p.starts_with("/api/models/bert-base-uncased")),
        "{statuses:?}"
    );
}

#[test]
fn tree_listing_follows_every_page() {
    let hub = FixtureHub::start();
    let client = client(&hub, None);
    let entries = runtime()
        .block_on(client.list_tree(&repo("hubble-tests/many-files"), None, None, true))
        .unwrap();
    let files: Vec<_> = entries.iter().filter(|e| e.kind == "file").collect();
    assert_eq!(files.len(), 120);
    let pages = hub
        .requests()
        .iter()
        .filter(|r| r.path.contains("/tree/"))
        .count();
    assert!(pages >= 3, "120 entries at 50 per page: {pages} requests");
}

#[test]
fn whoami_needs_a_valid_token() {
    let hub = FixtureHub::start_with(HubOptions {
        require_token: Some(TOKEN.into()),
        ..HubOptions::default()
    });
    let rt = runtime();
    let me = rt.block_on(client(&hub, Some(TOKEN)).whoami()).unwrap();
    assert_eq!(me.name, fixture_hub::USER_NAME);
    let error = rt.block_on(client(&hub, None).whoami()).unwrap_err();
    assert!(matches!(error, HubError::Unauthorized { .. }), "{error:?}");
    let error = rt
        .block_on(client(&hub, Some("hf_wrong")).whoami())
        .unwrap_err();
    assert!(matches!(error, HubError::Unauthorized { .. }), "{error:?}");
    assert!(error.to_string().contains("settings/tokens"), "{error}");
}

#[test]
fn gated_files_open_with_the_right_token_only() {
    let hub = FixtureHub::start_with(HubOptions {
        require_token: Some(TOKEN.into()),
        ..HubOptions::default()
    });
    let rt = runtime();
    let gated = repo("hubble-tests/gated-model");
    let read =
        |token| rt.block_on(client(&hub, token).fetch_file(&gated, None, "README.md", 1 << 20));
    assert!(read(Some(TOKEN)).is_ok());
    for token in [None, Some("hf_wrong")] {
        match read(token) {
            Err(HubError::GatedRepo { repo, .. }) => assert_eq!(repo, gated.as_str()),
            other => panic!("{token:?}: {other:?}"),
        }
    }
}
