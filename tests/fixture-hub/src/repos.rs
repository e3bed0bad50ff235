//! The repository model: what a test describes ([`Repo`], [`RepoFile`], [`FileContent`]) and
//! what the server keeps of it (hashes, the model-info JSON and the facets search filters on).

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};
use sha2::Digest;

use crate::util::{fnv, hex, iso_timestamp, sha1_hex};

/// How a repository is gated, as the Hub's `gated` field says it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gated {
    /// Not gated (`"gated": false`).
    #[default]
    No,
    /// Access granted automatically once requested (`"gated": "auto"`).
    Auto,
    /// Access granted by the authors (`"gated": "manual"`).
    Manual,
}

impl Gated {
    /// The JSON value of the Hub's `gated` field.
    pub fn to_json(self) -> Value {
        match self {
            Gated::No => Value::Bool(false),
            Gated::Auto => Value::from("auto"),
            Gated::Manual => Value::from("manual"),
        }
    }
}

/// The bytes of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContent {
    /// Literal bytes.
    Bytes(Vec<u8>),
    /// `len` bytes generated on the fly from their offset (see [`FileContent::read_at`]), so that
    /// large files cost no memory. Hashes are computed on first use, which reads the whole file.
    Virtual {
        /// Length in bytes.
        len: u64,
        /// Varies the pattern, so that two virtual files of one length differ.
        seed: u64,
    },
    /// Real leading bytes (e.g. a safetensors or GGUF header) followed by generated ones up to
    /// `len` in all: the byte at offset `i >= header.len()` is the [`FileContent::Virtual`]
    /// pattern with seed 0 at offset `i`. A `len` shorter than the header cuts the header.
    HeaderThenVirtual {
        /// The leading bytes.
        header: Vec<u8>,
        /// Length of the whole file in bytes.
        len: u64,
    },
}

impl FileContent {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            FileContent::Bytes(bytes) => bytes.len() as u64,
            FileContent::Virtual { len, .. } | FileContent::HeaderThenVirtual { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes starting at `offset`; bytes past the end are left untouched.
    /// For [`FileContent::Virtual`], the byte at offset `i` is byte `i % 8` (little-endian) of
    /// `splitmix64(seed + i / 8)`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) {
        let end = self.len().min(offset.saturating_add(buf.len() as u64));
        if offset >= end {
            return;
        }
        let count = (end - offset) as usize;
        match self {
            FileContent::Bytes(bytes) => {
                let start = offset as usize;
                buf[..count].copy_from_slice(&bytes[start..start + count]);
            }
            FileContent::Virtual { seed, .. } => virtual_bytes(*seed, offset, &mut buf[..count]),
            FileContent::HeaderThenVirtual { header, .. } => {
                let mut done = 0;
                if let Some(head) = header.get(offset as usize..) {
                    done = head.len().min(count);
                    buf[..done].copy_from_slice(&head[..done]);
                }
                virtual_bytes(0, offset + done as u64, &mut buf[done..count]);
            }
        }
    }

    /// Feeds the whole content, in chunks, to `sink`.
    fn for_each_chunk(&self, mut sink: impl FnMut(&[u8])) {
        if let FileContent::Bytes(bytes) = self {
            sink(bytes);
            return;
        }
        let mut buf = vec![0u8; 1 << 16];
        let mut offset = 0;
        while offset < self.len() {
            let n = (self.len() - offset).min(buf.len() as u64) as usize;
            self.read_at(offset, &mut buf[..n]);
            sink(&buf[..n]);
            offset += n as u64;
        }
    }
}

/// Fills `buf` with the virtual pattern of `seed` from `offset` on, one word computation per
/// 8 bytes.
fn virtual_bytes(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut at = offset;
    let mut filled = 0;
    while filled < buf.len() {
        let word = splitmix64(seed.wrapping_add(at / 8)).to_le_bytes();
        let skip = (at % 8) as usize;
        let n = (8 - skip).min(buf.len() - filled);
        buf[filled..filled + n].copy_from_slice(&word[skip..skip + n]);
        filled += n;
        at += n as u64;
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One file of a repository.
#[derive(Clone, Debug)]
pub struct RepoFile {
    /// Path inside the repository, `/`-separated (`onnx/model.onnx`).
    pub path: String,
    /// The file's bytes.
    pub content: FileContent,
    /// Whether git stores it as an LFS pointer (tree/blobs then show `lfs{…}` and resolve
    /// answers with `X-Linked-Etag`/`X-Linked-Size`, or redirects to the CDN).
    pub lfs: bool,
}

impl RepoFile {
    /// A regular (non-LFS) file.
    pub fn new(path: &str, bytes: impl Into<Vec<u8>>) -> RepoFile {
        RepoFile {
            path: path.to_owned(),
            content: FileContent::Bytes(bytes.into()),
            lfs: false,
        }
    }

    /// An LFS file with literal bytes.
    pub fn lfs(path: &str, bytes: impl Into<Vec<u8>>) -> RepoFile {
        RepoFile {
            lfs: true,
            ..RepoFile::new(path, bytes)
        }
    }

    /// An LFS file of `len` generated bytes (see [`FileContent::Virtual`]).
    pub fn virtual_lfs(path: &str, len: u64, seed: u64) -> RepoFile {
        RepoFile {
            path: path.to_owned(),
            content: FileContent::Virtual { len, seed },
            lfs: true,
        }
    }
}

/// A recorded response body with the recorded headers worth replaying (`ETag`,
/// `X-Request-Id`, `Content-Type`, …; CDN and hop-by-hop headers are dropped when loading).
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// Header name/value pairs to send along.
    pub headers: Vec<(String, String)>,
}

/// Which of the Hub's three repository kinds a [`Repo`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepoKind {
    /// `/api/models/…`, `/{id}/resolve/…`.
    #[default]
    Model,
    /// `/api/datasets/…`, `/datasets/{id}/resolve/…`.
    Dataset,
    /// `/api/spaces/…`, `/spaces/{id}/resolve/…`.
    Space,
}

impl RepoKind {
    /// The plural used in API paths: `models`, `datasets`, `spaces`.
    pub fn plural(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
            RepoKind::Space => "spaces",
        }
    }

    /// The key a repo of this kind is stored under: its id, prefixed with `datasets/` or
    /// `spaces/` for those kinds (ids are unique per kind on the Hub).
    pub(crate) fn key(self, id: &str) -> String {
        match self {
            RepoKind::Model => id.to_owned(),
            other => format!("{}/{id}", other.plural()),
        }
    }
}

/// Another branch or tag of a repository: its own commit and files (the repo's own `sha` and
/// `files` are `main`).
#[derive(Clone, Debug)]
pub struct Revision {
    /// Branch or tag name (`dev`, `v1.0`).
    pub name: String,
    /// A tag rather than a branch.
    pub tag: bool,
    /// The files at that commit.
    pub files: Vec<RepoFile>,
}

impl Revision {
    /// The commit sha of revision `name` of repo `id`, derived from both.
    pub fn sha(id: &str, name: &str) -> String {
        sha1_hex(&format!("commit {id}@{name}"))
    }
}

/// A discussion or pull request on a repository's Community tab.
#[derive(Clone, Debug)]
pub struct Discussion {
    /// Its title.
    pub title: String,
    /// The user who opened it.
    pub author: String,
    /// `open`, `closed`, `merged` or `draft`.
    pub status: String,
    /// A pull request rather than a discussion.
    pub pull_request: bool,
    /// How many comments it has.
    pub comments: u64,
}

/// A model repository served by the hub.
#[derive(Clone, Debug)]
pub struct Repo {
    /// `org/name` (or a legacy id without an org).
    pub id: String,
    /// The commit sha of `main`: 40 hex digits. Only `main` and this sha are valid revisions.
    pub sha: String,
    /// The files at that commit.
    pub files: Vec<RepoFile>,
    /// Gating; gated files need `HubOptions::require_token` to resolve.
    pub gated: Gated,
    /// Fields merged over the generated model-info JSON (`pipeline_tag`, `library_name`, `tags`,
    /// `downloads`, `likes`, `trendingScore`, `lastModified`, `createdAt`, `safetensors`,
    /// `cardData`, `config`, …). These are also what search filters and sorts on.
    pub info_extra: Value,
    /// When set, `/api/models/{id}` serves this exact recorded body (and `info_extra` is unused).
    pub recorded_info: Option<Recorded>,
    /// Former ids: requests naming them answer `307` to the same URL with this id.
    pub renamed_from: Vec<String>,
    /// When true, resolving a non-LFS file at a branch name (`main`) answers `307` with a
    /// relative `Location: /api/resolve-cache/models/{id}/{sha}/{path}?…`, as the real Hub does.
    pub resolve_cache: bool,
    /// Model, dataset or Space.
    pub kind: RepoKind,
    /// Branches and tags besides `main` (`/refs`, `/revision/{name}`, `/tree/{name}`, resolve).
    pub revisions: Vec<Revision>,
    /// The Community tab (`/api/{kind}/{id}/discussions`), numbered from 1 in order.
    pub discussions: Vec<Discussion>,
    /// For a dataset: what the dataset viewer's `/first-rows` answers for config `default`,
    /// split `train` (`{features, rows}`); `None` answers 404 there and on `/splits`.
    pub first_rows: Option<Value>,
}

impl Repo {
    /// An empty, public repository whose sha is derived from its id.
    pub fn new(id: &str) -> Repo {
        Repo {
            id: id.to_owned(),
            sha: sha1_hex(&format!("commit {id}")),
            files: Vec::new(),
            gated: Gated::No,
            info_extra: Value::Null,
            recorded_info: None,
            renamed_from: Vec::new(),
            resolve_cache: false,
            kind: RepoKind::Model,
            revisions: Vec::new(),
            discussions: Vec::new(),
            first_rows: None,
        }
    }
}

/// A file as served: content plus lazily computed hashes.
pub(crate) struct StoredFile {
    pub path: String,
    pub lfs: bool,
    pub content: Arc<FileContent>,
    sha256: OnceLock<String>,
    git_oid: OnceLock<String>,
}

impl StoredFile {
    fn new(file: RepoFile) -> StoredFile {
        StoredFile {
            path: file.path,
            lfs: file.lfs,
            content: Arc::new(file.content),
            sha256: OnceLock::new(),
            git_oid: OnceLock::new(),
        }
    }

    pub fn len(&self) -> u64 {
        self.content.len()
    }

    /// SHA-256 of the content, in hex (the LFS oid).
    pub fn sha256(&self) -> &str {
        self.sha256.get_or_init(|| {
            let mut hasher = sha2::Sha256::new();
            self.content.for_each_chunk(|chunk| hasher.update(chunk));
            hex(&hasher.finalize())
        })
    }

    /// The git pointer text git stores for an LFS file.
    fn pointer(&self) -> String {
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
            self.sha256(),
            self.len()
        )
    }

    /// Size in bytes of the LFS pointer.
    pub fn pointer_size(&self) -> usize {
        self.pointer().len()
    }

    /// The git blob id: `sha1("blob {len}\0" + bytes)` of the content, or of the pointer for LFS.
    pub fn git_oid(&self) -> &str {
        self.git_oid.get_or_init(|| {
            let mut hasher = sha1_smol::Sha1::new();
            if self.lfs {
                let pointer = self.pointer();
                hasher.update(format!("blob {}\0", pointer.len()).as_bytes());
                hasher.update(pointer.as_bytes());
            } else {
                hasher.update(format!("blob {}\0", self.len()).as_bytes());
                self.content.for_each_chunk(|chunk| hasher.update(chunk));
            }
            hasher.digest().to_string()
        })
    }

    /// The `ETag` value (without quotes) resolve sends: the sha256 for LFS, else the blob id.
    pub fn etag(&self) -> &str {
        if self.lfs {
            self.sha256()
        } else {
            self.git_oid()
        }
    }

    /// The `lfs` object of tree entries (`oid`) or of blob siblings (`sha256`).
    pub fn lfs_json(&self, oid_key: &str) -> Value {
        json!({ oid_key: self.sha256(), "size": self.len(), "pointerSize": self.pointer_size() })
    }
}

/// What search filters and sorts on, taken from the model-info JSON.
pub(crate) struct Facets {
    pub tags: Vec<String>,
    pub pipeline_tag: Option<String>,
    pub library_name: Option<String>,
    pub downloads: u64,
    pub likes: u64,
    pub trending_score: u64,
    pub created_at: String,
    pub last_modified: String,
    pub parameters: Option<u64>,
    pub gated: bool,
}

/// A repository as served.
pub(crate) struct StoredRepo {
    pub id: String,
    pub sha: String,
    pub gated: Gated,
    /// Sorted by path.
    pub files: Vec<StoredFile>,
    /// The model-info JSON (siblings without blob fields).
    pub info: Map<String, Value>,
    pub recorded: Option<Recorded>,
    pub renamed_from: Vec<String>,
    pub resolve_cache: bool,
    pub facets: Facets,
    pub kind: RepoKind,
    /// The branch or tag this is, for the other revisions (`None` for `main`).
    pub ref_name: Option<(String, bool)>,
    /// Branches and tags besides `main`, each a repo of its own.
    pub revisions: Vec<Arc<StoredRepo>>,
    pub discussions: Vec<Discussion>,
    pub first_rows: Option<Value>,
}

impl StoredRepo {
    pub fn new(mut repo: Repo) -> StoredRepo {
        let revisions = std::mem::take(&mut repo.revisions)
            .into_iter()
            .map(|revision| {
                let sha = Revision::sha(&repo.id, &revision.name);
                let mut stored = StoredRepo::new(Repo {
                    sha,
                    files: revision.files,
                    info_extra: repo.info_extra.clone(),
                    recorded_info: None,
                    discussions: Vec::new(),
                    first_rows: None,
                    ..repo.clone()
                });
                stored.ref_name = Some((revision.name, revision.tag));
                Arc::new(stored)
            })
            .collect();
        let mut files: Vec<StoredFile> = repo.files.into_iter().map(StoredFile::new).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|later, earlier| later.path == earlier.path);
        let mut info = match &repo.recorded_info {
            Some(recorded) => match serde_json::from_slice(&recorded.body) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
            None => synthetic_info(
                repo.kind,
                &repo.id,
                &repo.sha,
                repo.gated,
                &files,
                &repo.info_extra,
            ),
        };
        let trending = info.remove("trendingScore");
        let facets = Facets::of(&repo.id, &info, trending.as_ref());
        StoredRepo {
            id: repo.id,
            sha: repo.sha,
            gated: repo.gated,
            files,
            info,
            recorded: repo.recorded_info,
            renamed_from: repo.renamed_from,
            resolve_cache: repo.resolve_cache,
            facets,
            kind: repo.kind,
            ref_name: None,
            revisions,
            discussions: repo.discussions,
            first_rows: repo.first_rows,
        }
    }

    /// The key this repo is stored under (see [`RepoKind::key`]).
    pub fn key(&self) -> String {
        self.kind.key(&self.id)
    }

    /// The repo as of `rev`: `main` or its sha is this one, another branch, tag or sha one of
    /// [`StoredRepo::revisions`].
    pub fn at(self: &Arc<Self>, rev: &str) -> Option<Arc<StoredRepo>> {
        if rev == "main" || rev == self.sha {
            return Some(self.clone());
        }
        self.revisions
            .iter()
            .find(|r| r.sha == rev || r.ref_name.as_ref().is_some_and(|(name, _)| name == rev))
            .cloned()
    }

    /// Looks a file up by path.
    pub fn file(&self, path: &str) -> Option<&StoredFile> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// The `siblings` array; with `blobs`, each entry has `blobId`, `size` and `lfs`.
    pub fn siblings(&self, blobs: bool) -> Value {
        let entries = self.files.iter().map(|f| {
            let mut entry = json!({ "rfilename": f.path });
            if blobs {
                entry["blobId"] = f.git_oid().into();
                entry["size"] = f.len().into();
                if f.lfs {
                    entry["lfs"] = f.lfs_json("sha256");
                }
            }
            entry
        });
        Value::Array(entries.collect())
    }
}

impl Facets {
    fn of(id: &str, info: &Map<String, Value>, trending: Option<&Value>) -> Facets {
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| info.get(key).and_then(Value::as_u64).unwrap_or(0);
        Facets {
            tags: info
                .get("tags")
                .and_then(Value::as_array)
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            pipeline_tag: text("pipeline_tag"),
            library_name: text("library_name"),
            downloads: number("downloads"),
            likes: number("likes"),
            trending_score: trending
                .and_then(Value::as_u64)
                .unwrap_or_else(|| fnv(id) % 500),
            created_at: text("createdAt").unwrap_or_default(),
            last_modified: text("lastModified").unwrap_or_default(),
            parameters: info
                .get("safetensors")
                .and_then(|s| s.get("total"))
                .and_then(Value::as_u64),
            gated: !matches!(info.get("gated"), None | Some(Value::Bool(false))),
        }
    }
}

/// The object id (`_id`) the Hub would give `id`: 24 hex digits.
pub(crate) fn object_id(id: &str) -> String {
    sha1_hex(&format!("object {id}"))[..24].to_owned()
}

/// The model-info JSON of a synthetic repo, `extra` merged over the generated fields.
fn synthetic_info(
    kind: RepoKind,
    id: &str,
    sha: &str,
    gated: Gated,
    files: &[StoredFile],
    extra: &Value,
) -> Map<String, Value> {
    let created = iso_timestamp(1_700_000_000);
    let mut info = json!({
        "_id": object_id(id),
        "id": id,
        "private": false,
        "tags": [],
        "downloads": 0,
        "likes": 0,
        "sha": sha,
        "lastModified": created,
        "createdAt": created,
        "gated": gated.to_json(),
        "disabled": false,
        "siblings": files.iter().map(|f| json!({ "rfilename": f.path })).collect::<Vec<_>>(),
        "usedStorage": files.iter().map(StoredFile::len).sum::<u64>(),
    });
    if kind == RepoKind::Model {
        info["modelId"] = id.into();
    }
    if let Some((author, _)) = id.split_once('/') {
        info["author"] = author.into();
    }
    let Value::Object(mut info) = info else {
        unreachable!("json! object literal")
    };
    if let Value::Object(extra) = extra {
        info.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_content_is_deterministic_and_offset_based() {
        let content = FileContent::Virtual { len: 100, seed: 7 };
        let mut whole = [0u8; 100];
        content.read_at(0, &mut whole);
        let mut part = [0u8; 10];
        content.read_at(45, &mut part);
        assert_eq!(part, whole[45..55]);
        let mut tail = [0xAAu8; 10];
        content.read_at(95, &mut tail);
        assert_eq!(tail[..5], whole[95..]);
        assert_eq!(tail[5..], [0xAA; 5]);
        assert_ne!(whole[..8], whole[8..16]);
    }

    #[test]
    fn header_then_virtual_serves_the_header_then_the_pattern() {
        let content = FileContent::HeaderThenVirtual {
            header: b"HEADER".to_vec(),
            len: 20,
        };
        let mut whole = [0u8; 20];
        content.read_at(0, &mut whole);
        assert_eq!(&whole[..6], b"HEADER");
        let mut pattern = [0u8; 14];
        FileContent::Virtual { len: 20, seed: 0 }.read_at(6, &mut pattern);
        assert_eq!(whole[6..], pattern);
        let mut part = [0u8; 4];
        content.read_at(4, &mut part);
        assert_eq!(part, whole[4..8]);
    }

    #[test]
    fn git_blob_id_matches_the_recorded_capture() {
        // Body and ETag of resolve_get__200_non_lfs__microsoft__trocr-small-handwritten…
        let body = r#"{"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>", "mask_token": {"content": "<mask>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": true, "__type": "AddedToken"}, "sp_model_kwargs": {}, "tokenizer_class": "XLMRobertaTokenizer"}"#;
        let file = StoredFile::new(RepoFile::new("tokenizer_config.json", body));
        assert_eq!(file.len(), 327);
        assert_eq!(file.git_oid(), "9fa50ec37ab9f93c5f9d90e65827d3af0d5d4043");
    }

    #[test]
    fn lfs_pointer_size_matches_recorded_ones() {
        let file = StoredFile::new(RepoFile::lfs("pytorch_model.bin", vec![0u8; 22]));
        assert_eq!(file.pointer_size(), 127);
        let big = StoredFile::new(RepoFile::virtual_lfs("x", 440_473_133, 0));
        // Hashing 420 MiB would be slow; the pointer length only depends on the digit count.
        big.sha256.set("0".repeat(64)).unwrap();
        assert_eq!(big.pointer_size(), 134);
    }
}
