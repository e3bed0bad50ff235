//! Smoke test of the olah test mirror (`tests/support/olah.rs`): a real Hugging Face
//! mirror server (`pip install olah==0.5.4`) over git repos made in a temp dir, spoken to
//! with plain HTTP over `std::net::TcpStream`.
//!
//! Without olah installed these tests FAIL (CI installs it); set `HUBBLE_SKIP_OLAH=1` to
//! skip them with a notice instead.

use crate::support::olah;

use olah::{MirrorRepo, Olah};

const ID: &str = "hubble-test/tiny-classifier";
const README: &str = "---\nlicense: mit\npipeline_tag: text-classification\n---\n\
                      # Tiny classifier\n\nA test model.\n";
const CONFIG: &str = "{\"model_type\":\"bert\",\"num_labels\":2}\n";

#[test]
fn olah_serves_revision_info_and_files() {
    let Some(olah) = Olah::start_for_test(&[MirrorRepo {
        id: ID,
        files: vec![
            ("README.md", README.as_bytes().to_vec()),
            ("config.json", CONFIG.as_bytes().to_vec()),
        ],
    }]) else {
        return;
    };
    eprintln!(
        "olah at {} started in {:?}",
        olah.url(),
        olah.startup_time()
    );
    let sha = olah.commit_of(ID);
    assert_eq!(sha.len(), 40, "commit sha {sha:?}");

    // Model info at a revision.
    let info = olah
        .get(&format!("/api/models/{ID}/revision/main"))
        .unwrap();
    let body = info.text();
    assert_eq!(
        info.status,
        200,
        "revision info: {body}\nolah log:\n{}",
        olah.log()
    );
    assert!(body.contains(&format!("\"sha\":\"{sha}\"")), "{body}");
    assert!(body.contains(&format!("\"id\":\"{ID}\"")), "{body}");
    assert!(body.contains("\"license\":\"mit\""), "cardData: {body}");
    assert!(
        body.contains("\"pipeline_tag\":\"text-classification\""),
        "cardData: {body}"
    );
    assert!(
        body.contains("{\"rfilename\":\"README.md\"}"),
        "siblings: {body}"
    );
    assert!(
        body.contains("{\"rfilename\":\"config.json\"}"),
        "siblings: {body}"
    );

    // HEAD on resolve carries the metadata; GET only the bytes.
    let head = olah.head(&format!("/{ID}/resolve/main/README.md")).unwrap();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("x-repo-commit"), Some(sha.as_str()), "{head:?}");
    let blob = olah.git(ID, &["rev-parse", "HEAD:README.md"]);
    assert_eq!(head.header("etag"), Some(blob.as_str()), "{head:?}");
    let len = README.len().to_string();
    assert_eq!(
        head.header("content-length"),
        Some(len.as_str()),
        "{head:?}"
    );

    let file = olah.get(&format!("/{ID}/resolve/main/README.md")).unwrap();
    assert_eq!(file.status, 200, "{file:?}");
    assert_eq!(file.text(), README);

    let config = olah
        .get(&format!("/{ID}/resolve/{sha}/config.json"))
        .unwrap();
    assert_eq!(config.status, 200, "{config:?}");
    assert_eq!(config.text(), CONFIG);

    // A missing repo is RepoNotFound (olah answers 401, like the Hub for private/missing).
    let missing = olah
        .get("/api/models/hubble-test/does-not-exist/revision/main")
        .unwrap();
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(
        missing.header("x-error-code"),
        Some("RepoNotFound"),
        "{missing:?}"
    );
}

#[test]
fn olah_serves_lfs_files_with_sha256_etag_and_sees_new_commits() {
    // 2 MB of non-text bytes: stored as an LFS object because of the extension.
    let weights: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let Some(mut olah) = Olah::start_for_test(&[MirrorRepo {
        id: "hubble-test/weights",
        files: vec![
            ("model.safetensors", weights.clone()),
            ("nested/notes.txt", b"plain git\n".to_vec()),
        ],
    }]) else {
        return;
    };
    let id = "hubble-test/weights";
    let oid = olah::sha256_hex(&weights);

    let tree = olah
        .get(&format!("/api/models/{id}/tree/main/?recursive=true"))
        .unwrap();
    assert_eq!(tree.status, 200, "{}", tree.text());
    let listing = tree.text();
    assert!(
        listing.contains(&format!("\"lfs\":{{\"oid\":\"{oid}\",\"size\":2000000")),
        "{listing}"
    );
    assert!(
        listing.contains("\"path\":\"nested/notes.txt\""),
        "{listing}"
    );

    let head = olah
        .head(&format!("/{id}/resolve/main/model.safetensors"))
        .unwrap();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("etag"), Some(oid.as_str()), "{head:?}");
    assert_eq!(head.header("content-length"), Some("2000000"), "{head:?}");

    // Range is ignored: 200 with the whole file.
    let ranged = olah
        .request(
            "GET",
            &format!("/{id}/resolve/main/model.safetensors"),
            &[("Range", "bytes=0-9")],
        )
        .unwrap();
    assert_eq!(
        ranged.status, 200,
        "olah started honouring Range? {:?}",
        ranged.headers
    );
    assert!(
        ranged.body == weights,
        "body differs ({} bytes)",
        ranged.body.len()
    );

    // A new commit is visible at once (olah reads the git repo on every request).
    let first = olah.commit_of(id);
    let second = olah
        .add_commit(&MirrorRepo {
            id,
            files: vec![("README.md", b"# Weights\n".to_vec())],
        })
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(olah.commit_of(id), second);
    let info = olah
        .get(&format!("/api/models/{id}/revision/main"))
        .unwrap();
    assert!(
        info.text().contains(&format!("\"sha\":\"{second}\"")),
        "{}",
        info.text()
    );
}

#[test]
fn sha256_matches_known_vectors() {
    assert_eq!(
        olah::sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        olah::sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        olah::sha256_hex(&[b'a'; 1000]),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
}
