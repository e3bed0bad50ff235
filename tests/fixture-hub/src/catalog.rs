//! The default catalogue: recorded repos, card repos and small purpose-built test repos.

use std::fs;

use serde_json::json;

use crate::repos::{Discussion, Gated, Repo, RepoFile, Revision};

/// Reads a file under [`crate::fixtures_dir`].
///
/// # Panics
/// If it cannot be read: the fixtures are a precondition of every test.
pub(crate) fn fixture_bytes(relative: &str) -> Vec<u8> {
    let path = crate::fixtures_dir().join(relative);
    fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read fixture {} ({e}); set HUBBLE_FIXTURES to the shared fixtures folder",
            path.display()
        )
    })
}

/// A valid safetensors file holding one 2×2 F32 tensor whose values depend on `name`.
pub(crate) fn tiny_safetensors(name: &str) -> Vec<u8> {
    let mut header =
        r#"{"__metadata__":{"format":"pt"},"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
            .to_owned();
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let base = (name.len() % 7) as f32;
    for i in 0..4 {
        bytes.extend_from_slice(&(base + i as f32).to_le_bytes());
    }
    bytes
}

/// Everything [`crate::FixtureHub::start`] serves: [`crate::recorded_repos`],
/// [`crate::card_repos`] and [`test_repos`].
pub fn default_repos() -> Vec<Repo> {
    let mut repos = crate::recorded_repos();
    repos.extend(crate::card_repos());
    repos.extend(test_repos());
    repos
}

/// Small repos built for protocol tests, all under `hubble-tests/`:
/// - `tiny-model`: a complete little text-generation model (README with front matter,
///   `config.json`, `tokenizer.json`, LFS `model.safetensors` and `onnx/model.onnx`, a nested
///   `extra/notes/readme.txt`), `safetensors.total` = 4.
/// - `gated-model`: the same shape, `gated: "auto"`.
/// - `tiny-model-GGUF`: one LFS `.gguf` file, tags `gguf`, a `gguf` info block.
/// - `many-files`: 120 small files in 4 folders, for tree paging.
/// - `large-files`: one 6 MiB virtual LFS file (`large.bin`), for streaming and ranges.
///
/// `tiny-model` also has a branch `dev` (another README naming `hubble-tests/tiny-dataset` in
/// `datasets:`, an extra `dev-notes.txt`), a tag
/// `v1.0` (README and config only) and three discussions/PRs; the datasets and Spaces of
/// [`crate::catalog_hub`] come along.
pub fn test_repos() -> Vec<Repo> {
    let gitattributes = fixture_bytes("hub-api/gitattributes__TheBloke__Llama-2-7B-Chat-GGUF.txt");
    let readme = "---\nlicense: apache-2.0\nlanguage:\n- en\npipeline_tag: text-generation\n\
                  library_name: transformers\n---\n\n# Tiny model\n\nA fixture model for Hubble's tests.\n";
    let model_files = |id: &str| {
        vec![
            RepoFile::new(".gitattributes", gitattributes.clone()),
            RepoFile::new("README.md", readme),
            RepoFile::new(
                "config.json",
                "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n  \
                 \"hidden_size\": 2,\n  \"num_hidden_layers\": 1\n}\n",
            ),
            RepoFile::new(
                "tokenizer.json",
                "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n",
            ),
            RepoFile::lfs("model.safetensors", tiny_safetensors(id)),
            RepoFile::lfs("onnx/model.onnx", format!("onnx placeholder for {id}\n")),
            RepoFile::new("extra/notes/readme.txt", "nested file\n"),
        ]
    };
    let model_info = json!({
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "tags": ["transformers", "safetensors", "llama", "text-generation", "en", "license:apache-2.0", "region:us"],
        "downloads": 42,
        "likes": 3,
        "trendingScore": 1,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "lastModified": "2025-02-01T00:00:00.000Z",
        "safetensors": { "parameters": { "F32": 4 }, "total": 4 },
        "cardData": { "license": "apache-2.0", "language": ["en"] },
        "config": { "architectures": ["LlamaForCausalLM"], "model_type": "llama" },
    });
    let many_files = (0..120)
        .map(|i| {
            RepoFile::new(
                &format!("shard-{}/file-{i:03}.txt", i % 4),
                format!("file {i}\n"),
            )
        })
        .collect();
    let tiny_files = model_files("hubble-tests/tiny-model");
    let dev_readme = "---\nlicense: apache-2.0\npipeline_tag: text-generation\ndatasets:\n\
                      - hubble-tests/tiny-dataset\n---\n\n\
                      # Tiny model (dev branch)\n\nWork in progress on the dev branch.\n";
    let mut dev_files: Vec<RepoFile> = tiny_files
        .iter()
        .filter(|f| f.path != "README.md")
        .cloned()
        .collect();
    dev_files.push(RepoFile::new("README.md", dev_readme));
    dev_files.push(RepoFile::new("dev-notes.txt", "only on the dev branch\n"));
    let v1_files = vec![
        RepoFile::new("README.md", "# Tiny model v1.0\n\nThe first release.\n"),
        RepoFile::new("config.json", "{\"model_type\": \"llama\"}\n"),
    ];
    let mut repos = vec![
        Repo {
            files: tiny_files,
            info_extra: model_info.clone(),
            revisions: vec![
                Revision {
                    name: "dev".to_owned(),
                    tag: false,
                    files: dev_files,
                },
                Revision {
                    name: "v1.0".to_owned(),
                    tag: true,
                    files: v1_files,
                },
            ],
            discussions: vec![
                discussion("Add a chat template", "alice", "open", true, 2),
                discussion("Does it run on a Raspberry Pi?", "bob", "closed", false, 5),
                discussion("Fix the config", "carol", "merged", true, 1),
            ],
            ..Repo::new("hubble-tests/tiny-model")
        },
        Repo {
            files: model_files("hubble-tests/gated-model"),
            gated: Gated::Auto,
            info_extra: model_info,
            ..Repo::new("hubble-tests/gated-model")
        },
        Repo {
            files: vec![
                RepoFile::new(".gitattributes", gitattributes.clone()),
                RepoFile::lfs("tiny-model.Q4_K_M.gguf", b"GGUF\x03\0\0\0fixture".to_vec()),
            ],
            info_extra: json!({
                "library_name": "gguf",
                "pipeline_tag": "text-generation",
                "tags": ["gguf", "llama", "text-generation", "license:apache-2.0", "region:us"],
                "gguf": { "total": 1_100_048_384u64, "architecture": "llama", "context_length": 2048 },
                "downloads": 7,
            }),
            ..Repo::new("hubble-tests/tiny-model-GGUF")
        },
        Repo {
            files: many_files,
            ..Repo::new("hubble-tests/many-files")
        },
        Repo {
            files: vec![RepoFile::virtual_lfs("large.bin", 6 * 1024 * 1024 + 7, 1)],
            ..Repo::new("hubble-tests/large-files")
        },
    ];
    repos.extend(crate::catalog_hub::datasets_and_spaces());
    repos
}

/// A discussion of the test catalogue.
fn discussion(
    title: &str,
    author: &str,
    status: &str,
    pull_request: bool,
    comments: u64,
) -> Discussion {
    Discussion {
        title: title.to_owned(),
        author: author.to_owned(),
        status: status.to_owned(),
        pull_request,
        comments,
    }
}

/// `n` synthetic repos `hubble-synthetic/model-00000`, … for benchmarks of long result lists:
/// no files, varied task, library, license, counts, parameters and dates, all derived from the
/// index so they never change between runs.
pub fn synthetic_repos(n: usize) -> Vec<Repo> {
    let tasks = [
        "text-generation",
        "fill-mask",
        "image-classification",
        "automatic-speech-recognition",
    ];
    let libraries = ["transformers", "gguf", "diffusers", "sentence-transformers"];
    let licenses = ["apache-2.0", "mit", "cc-by-nc-4.0", "llama3.1"];
    (0..n)
        .map(|i| {
            let task = tasks[i % tasks.len()];
            let library = libraries[i % libraries.len()];
            let license = licenses[i % licenses.len()];
            let day = 1 + i % 28;
            Repo {
                info_extra: json!({
                    "pipeline_tag": task,
                    "library_name": library,
                    "tags": [library, task, format!("license:{license}"), "region:us"],
                    "downloads": (n - i) as u64 * 137,
                    "likes": (n - i) as u64 % 997,
                    "trendingScore": (n - i) as u64,
                    "createdAt": format!("2025-01-{day:02}T00:00:00.000Z"),
                    "lastModified": format!("2025-02-{day:02}T00:00:00.000Z"),
                    "safetensors": { "parameters": { "BF16": 1_000_000 * (i as u64 + 1) }, "total": 1_000_000 * (i as u64 + 1) },
                }),
                ..Repo::new(&format!("hubble-synthetic/model-{i:05}"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tiny_safetensors_has_a_valid_header() {
        let bytes = super::tiny_safetensors("x");
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        assert_eq!(header["weight"]["data_offsets"][1], 16);
        assert_eq!(bytes.len(), 8 + len + 16);
    }
}
