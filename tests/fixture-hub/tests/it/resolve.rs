//! Resolve: headers, ranges, errors, gating and the three redirect flavours.

use fixture_hub::{FileContent, FixtureHub, HubOptions, Repo, RepoFile};
use sha2::Digest;

use crate::client::{get, get_with, send};
use crate::hub_with_token;

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn blob_sha1(bytes: &[u8]) -> String {
    let mut hasher = sha1_smol::Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hasher.digest().to_string()
}

const TINY: &str = "/hubble-tests/tiny-model/resolve/main";

#[test]
fn non_lfs_file_has_commit_and_git_blob_etag() {
    let hub = FixtureHub::start();
    let r = get(&hub.url(), &format!("{TINY}/config.json"));
    assert_eq!(r.status, 200);
    let info = get(&hub.url(), "/api/models/hubble-tests/tiny-model").json();
    assert_eq!(r.header("x-repo-commit"), info["sha"].as_str());
    assert_eq!(
        r.header("etag").unwrap(),
        format!("\"{}\"", blob_sha1(&r.body))
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert!(r.header("x-linked-etag").is_none());
    assert!(r.text().contains("LlamaForCausalLM"));

    let head = send(&hub.url(), "HEAD", &format!("{TINY}/config.json"), &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length").unwrap(),
        r.body.len().to_string()
    );
    assert_eq!(head.header("etag"), r.header("etag"));

    let nested = get(&hub.url(), &format!("{TINY}/extra/notes/readme.txt"));
    assert_eq!(nested.text(), "nested file\n");
    let encoded = get(&hub.url(), &format!("{TINY}/extra%2Fnotes%2Freadme.txt"));
    assert_eq!(encoded.text(), "nested file\n");
}

#[test]
fn lfs_file_has_linked_headers() {
    let hub = FixtureHub::start();
    let r = get(&hub.url(), &format!("{TINY}/model.safetensors"));
    assert_eq!(r.status, 200);
    let sha = sha256_hex(&r.body);
    assert_eq!(r.header("etag").unwrap(), format!("\"{sha}\""));
    assert_eq!(r.header("x-linked-etag").unwrap(), format!("\"{sha}\""));
    assert_eq!(r.header("x-linked-size").unwrap(), r.body.len().to_string());
    let header_len = u64::from_le_bytes(r.body[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&r.body[8..8 + header_len]).unwrap();
    assert_eq!(header["weight"]["dtype"], "F32");
}

#[test]
fn ranges_answer_206_and_416() {
    let hub = FixtureHub::start();
    let url = format!("{TINY}/config.json");
    let full = get(&hub.url(), &url).body;
    let len = full.len();
    let part = get_with(&hub.url(), &url, &[("Range", "bytes=2-9")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, full[2..10]);
    assert_eq!(
        part.header("content-range").unwrap(),
        format!("bytes 2-9/{len}")
    );
    let open = get_with(&hub.url(), &url, &[("Range", "bytes=10-")]);
    assert_eq!(open.body, full[10..]);
    let suffix = get_with(&hub.url(), &url, &[("Range", "bytes=-5")]);
    assert_eq!(suffix.body, full[len - 5..]);
    assert_eq!(
        suffix.header("content-range").unwrap(),
        format!("bytes {}-{}/{len}", len - 5, len - 1)
    );
    let beyond = get_with(&hub.url(), &url, &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range").unwrap(),
        format!("bytes */{len}")
    );
}

#[test]
fn large_virtual_file_streams_and_ranges() {
    let hub = FixtureHub::start();
    let url = "/hubble-tests/large-files/resolve/main/large.bin";
    let head = send(&hub.url(), "HEAD", url, &[]);
    let len: u64 = head.header("content-length").unwrap().parse().unwrap();
    assert_eq!(len, 6 * 1024 * 1024 + 7);
    assert_eq!(head.header("x-linked-size").unwrap(), len.to_string());
    let start = 3 * 1024 * 1024 - 3;
    let part = get_with(
        &hub.url(),
        url,
        &[("Range", &format!("bytes={start}-{}", start + 99))],
    );
    assert_eq!(part.status, 206);
    let mut expected = vec![0u8; 100];
    FileContent::Virtual { len, seed: 1 }.read_at(start, &mut expected);
    assert_eq!(part.body, expected);
    let before = hub.bytes_served();
    let whole = get(&hub.url(), url);
    assert_eq!(whole.body.len() as u64, len);
    assert_eq!(hub.bytes_served() - before, len);
    assert_eq!(
        head.header("etag").unwrap(),
        format!("\"{}\"", sha256_hex(&whole.body))
    );
}

#[test]
fn missing_entry_revision_and_repo() {
    let hub = FixtureHub::start();
    let r = get(&hub.url(), &format!("{TINY}/nope.json"));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-error-code"), Some("EntryNotFound"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "Entry not found");
    let rev = get(
        &hub.url(),
        "/hubble-tests/tiny-model/resolve/v9/config.json",
    );
    assert_eq!(rev.status, 404);
    assert_eq!(rev.header("x-error-code"), Some("RevisionNotFound"));
    let repo = get(&hub.url(), "/nobody/nothing/resolve/main/config.json");
    assert_eq!(repo.status, 401);
    assert_eq!(repo.header("x-error-code"), Some("RepoNotFound"));
}

#[test]
fn gated_repo_needs_the_accepted_token() {
    let hub = hub_with_token("hf_good");
    let url = "/hubble-tests/gated-model/resolve/main/config.json";
    let info = get(&hub.url(), "/api/models/hubble-tests/gated-model").json();
    assert_eq!(info["gated"], "auto");

    let anon = send(&hub.url(), "HEAD", url, &[]);
    assert_eq!(anon.status, 401);
    assert_eq!(anon.header("x-error-code"), Some("GatedRepo"));
    assert_eq!(
        anon.header("x-error-message"),
        Some(
            "Access to model hubble-tests/gated-model is restricted. You must have access to it \
             and be authenticated to access it. Please log in."
        )
    );
    assert_eq!(
        anon.header("www-authenticate"),
        Some("Bearer realm=\"Authentication required\", charset=\"UTF-8\"")
    );

    let wrong = get_with(&hub.url(), url, &[("Authorization", "Bearer hf_other")]);
    assert_eq!(wrong.status, 403);
    assert_eq!(wrong.header("x-error-code"), Some("GatedRepo"));
    assert_eq!(
        wrong.json()["error"],
        format!(
            "Access to model hubble-tests/gated-model is restricted and you are not in the \
             authorized list. Visit {}/hubble-tests/gated-model to ask for access.",
            hub.url()
        )
    );

    let ok = get_with(&hub.url(), url, &[("Authorization", "Bearer hf_good")]);
    assert_eq!(ok.status, 200);
    let sd = get(
        &hub.url(),
        "/CompVis/stable-diffusion-v1-4/resolve/main/README.md",
    );
    assert_eq!(sd.status, 401);
}

#[test]
fn card_repo_at_main_redirects_to_the_resolve_cache() {
    let hub = FixtureHub::start();
    let id = "openai/whisper-base";
    let r = send(
        &hub.url(),
        "HEAD",
        &format!("/{id}/resolve/main/README.md"),
        &[],
    );
    assert_eq!(r.status, 307);
    assert!(r.header("x-repo-commit").is_none());
    let location = r.header("location").unwrap().to_owned();
    let sha = get(&hub.url(), &format!("/api/models/{id}")).json()["sha"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with(&format!("/api/resolve-cache/models/{id}/{sha}/README.md?%2Fopenai%2Fwhisper-base%2Fresolve%2Fmain%2FREADME.md=&etag=%22")),
        "{location}"
    );
    let cached = get(&hub.url(), &location);
    assert_eq!(cached.status, 200);
    assert_eq!(cached.header("x-repo-commit"), Some(sha.as_str()));
    assert_eq!(
        cached.body,
        crate::fixture("cards/openai__whisper-base__1.md")
    );
    let etag = cached.header("etag").unwrap().trim_matches('"').to_owned();
    assert!(location.ends_with(&format!("%22{etag}%22")));
    // At the sha itself there is no redirect.
    let direct = get(&hub.url(), &format!("/{id}/resolve/{sha}/README.md"));
    assert_eq!(direct.status, 200);
}

#[test]
fn renamed_repo_resolve_redirects() {
    let hub = FixtureHub::start();
    let r = get(
        &hub.url(),
        "/bert-base-uncased/resolve/main/config.json?download=true",
    );
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location"),
        Some("/google-bert/bert-base-uncased/resolve/main/config.json?download=true")
    );
    let followed = get(&hub.url(), r.header("location").unwrap());
    assert_eq!(followed.status, 200);
}

#[test]
fn lfs_redirects_to_another_host_acting_as_cdn() {
    let cdn = FixtureHub::start_with(HubOptions {
        repos: vec![],
        ..HubOptions::default()
    });
    let bytes = b"weights that live on the cdn".to_vec();
    let repo = Repo {
        files: vec![RepoFile::lfs("w.bin", bytes.clone())],
        ..Repo::new("hubble-tests/cdn-model")
    };
    cdn.add_repo(repo.clone());
    let hub = FixtureHub::start_with(HubOptions {
        repos: vec![repo],
        lfs_redirect_base: Some(cdn.url()),
        ..HubOptions::default()
    });
    let r = send(
        &hub.url(),
        "HEAD",
        "/hubble-tests/cdn-model/resolve/main/w.bin",
        &[],
    );
    assert_eq!(r.status, 302);
    let sha = sha256_hex(&bytes);
    assert_eq!(
        r.header("location").unwrap(),
        format!("{}/cdn/{sha}", cdn.url())
    );
    assert_eq!(r.header("x-linked-size").unwrap(), bytes.len().to_string());
    assert_eq!(r.header("x-linked-etag").unwrap(), format!("\"{sha}\""));
    assert!(r.header("x-repo-commit").is_some());

    let target = r
        .header("location")
        .unwrap()
        .strip_prefix(&cdn.url())
        .unwrap()
        .to_owned();
    let body = get(&cdn.url(), &target);
    assert_eq!(body.status, 200);
    assert_eq!(body.body, bytes);
    let part = get_with(&cdn.url(), &target, &[("Range", "bytes=8-")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[8..]);
    assert_eq!(cdn.requests().len(), 2);
    assert_eq!(
        get(&cdn.url(), &format!("/cdn/{}", "0".repeat(64))).status,
        404
    );
}
