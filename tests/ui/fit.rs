//! The app's fit features through egui_kittest against the fixture hub, with a fixed system
//! (one 8 GB discrete GPU, 16 GB of RAM) so verdicts are the same on every machine: the Fit
//! tab (exact weights, verdict per device, context slider, GGUF quant rows, measured memory),
//! the search results' fit badges and the system in the About window.

use crate::support::ui;
use crate::support::weights;

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fixture_hub::{FileContent, FixtureHub, Repo, RepoFile};
use hubble::fit::badge::BadgeLevel;
use hubble::fit::gguf::{self, GgufValue};
use hubble::fit::safetensors;
use hubble::fit::system::{CpuInfo, GpuInfo, GpuKind, MemoryInfo, SystemInfo, backends};
use hubble::fit::verdict::Verdict;
use hubble::format::{bytes, grouped};
use hubble::hub::RepoId;
use hubble::ui::{AppOptions, FitView};
use serde_json::json;
use ui::{App, config, harness_with_options, has_label, has_label_containing, wait_for};

const GB: u64 = 1_000_000_000;

/// A machine with one discrete 8 GB GPU and 16 GB of RAM (12 GB available).
fn test_system() -> SystemInfo {
    system_with_gpu("Test GPU 8GB", 8 * GB)
}

/// [`test_system`] with another GPU.
fn system_with_gpu(name: &str, memory: u64) -> SystemInfo {
    let gpus = vec![GpuInfo {
        name: name.into(),
        vendor_id: 0x10de,
        kind: GpuKind::Discrete,
        memory_total: memory,
        memory_free: None,
        source: "test".into(),
        driver: None,
    }];
    SystemInfo {
        os: "test os".into(),
        cpu: CpuInfo {
            model: "Test CPU 9000".into(),
            physical_cores: Some(4),
            logical_cores: 8,
            features: vec!["avx2".into(), "fma".into()],
        },
        memory: MemoryInfo {
            total: 16 * GB,
            available: 12 * GB,
        },
        backends: backends(&gpus),
        wgpu: Vec::new(),
        gpus,
        notes: Vec::new(),
    }
}

fn harness(hub: &FixtureHub, home: &std::path::Path) -> Harness<'static, App> {
    harness_on(hub, home, test_system())
}

fn harness_on(
    hub: &FixtureHub,
    home: &std::path::Path,
    system: SystemInfo,
) -> Harness<'static, App> {
    let options = AppOptions {
        system: Some(system),
        ..AppOptions::default()
    };
    harness_with_options(config(&hub.url(), home, false), Harness::builder(), options)
}

fn fit_view<'a>(harness: &'a Harness<App>, repo: &str) -> Option<&'a FitView> {
    let repo = RepoId::parse(repo).unwrap();
    harness.state().as_ref()?.fit_view(&repo)
}

/// The SmolLM2-135M shape: 30 layers, 576 hidden, 9 heads, 3 KV heads, 8192 context.
const LAYERS: u64 = 30;
const KV_PER_TOKEN_F16: u64 = LAYERS * 2 * 3 * 64 * 2;

/// A llama-style safetensors checkpoint (BF16 embeddings and MLP layers of `mlp` rows, F32
/// norms) with its config.json; returns the repo and its exact parameter count.
fn llama_repo(id: &str, mlp: u64) -> (Repo, u64) {
    let mut tensors: Vec<(String, &str, Vec<u64>)> =
        vec![("model.embed_tokens.weight".into(), "BF16", vec![49152, 576])];
    for i in 0..LAYERS {
        tensors.push((
            format!("model.layers.{i}.mlp.up_proj.weight"),
            "BF16",
            vec![mlp, 576],
        ));
        tensors.push((
            format!("model.layers.{i}.input_layernorm.weight"),
            "F32",
            vec![576],
        ));
    }
    let parameters = tensors
        .iter()
        .map(|(_, _, s)| s.iter().product::<u64>())
        .sum();
    let refs: Vec<(&str, &str, &[u64])> = tensors
        .iter()
        .map(|(n, d, s)| (n.as_str(), *d, s.as_slice()))
        .collect();
    let (header, data) = safetensors::build_header(&refs);
    let len = header.len() as u64 + data;
    let config = json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "num_hidden_layers": LAYERS, "hidden_size": 576, "num_attention_heads": 9,
        "num_key_value_heads": 3, "max_position_embeddings": 8192, "vocab_size": 49152
    });
    let repo = Repo {
        files: vec![
            RepoFile::new("config.json", config.to_string()),
            RepoFile {
                path: "model.safetensors".into(),
                content: FileContent::HeaderThenVirtual { header, len },
                lfs: true,
            },
        ],
        info_extra: json!({
            "pipeline_tag": "text-generation",
            "safetensors": {"parameters": {"BF16": parameters - LAYERS * 576, "F32": LAYERS * 576}, "total": parameters}
        }),
        ..Repo::new(id)
    };
    (repo, parameters)
}

/// Opens `repo`'s page and its Fit tab, and waits for the weights.
fn open_fit_tab(harness: &mut Harness<'static, App>, repo: &str, parameters: &str) {
    harness.step();
    harness.state_mut().as_mut().unwrap().open_model(repo);
    wait_for(harness, "the model page", |h| has_label(h, "Fit"));
    harness.get_by_label("Fit").click();
    wait_for(harness, "the weights read from the headers", |h| {
        has_label_containing(h, parameters)
    });
}

#[test]
fn a_safetensors_model_shows_exact_weights_a_verdict_per_device_and_the_context_slider_moves_the_kv_cache()
 {
    let hub = FixtureHub::start();
    let (repo, parameters) = llama_repo("hubble-tests/llama-fit", 1536);
    hub.add_repo(repo);
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    let count = format!("{} parameters", grouped(parameters));
    open_fit_tab(&mut harness, "hubble-tests/llama-fit", &count);
    assert!(has_label_containing(
        &harness,
        "Exact: read from the files' headers"
    ));
    assert!(has_label(&harness, "Equal to the Hub's parameter count."));
    // Only headers were read: every weight request was a Range request.
    let weight_requests: Vec<_> = hub
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("model.safetensors"))
        .collect();
    assert!(!weight_requests.is_empty());
    assert!(weight_requests.iter().all(|r| r.header("range").is_some()));

    // A verdict per device: the GPU, then the RAM.
    wait_for(&mut harness, "the device verdicts", |h| {
        fit_view(h, "hubble-tests/llama-fit").is_some_and(|f| f.verdicts().len() == 2)
    });
    let fit = fit_view(&harness, "hubble-tests/llama-fit").unwrap();
    let verdicts = fit.verdicts();
    assert_eq!(verdicts[0].device, "GPU 0: Test GPU 8GB");
    assert_eq!(verdicts[0].verdict, Verdict::FitsOnGpu);
    assert_eq!(verdicts[1].device, "CPU (RAM)");
    assert_eq!(verdicts[1].verdict, Verdict::CpuOnly);
    assert!(has_label(&harness, "fits on GPU"));
    assert!(has_label(&harness, "CPU only"));
    assert!(has_label_containing(
        &harness,
        "GPU 0: Test GPU 8GB: this model"
    ));
    assert!(has_label_containing(&harness, "CPU (RAM): this model"));

    // The context starts at the model's 8192 capped to 4096; the KV cache follows the slider.
    let estimate = fit.estimate().unwrap();
    assert_eq!(estimate.context, 4096);
    assert_eq!(
        estimate.weights_bytes,
        (parameters - LAYERS * 576) * 2 + LAYERS * 576 * 4
    );
    assert_eq!(estimate.kv_cache_bytes, KV_PER_TOKEN_F16 * 4096);
    let line = |context: u64| {
        format!(
            "KV cache = 30 layers × 2 × 3 KV heads × 64 head dim × {context} tokens × 2 B = {} bytes",
            KV_PER_TOKEN_F16 * context
        )
    };
    assert!(has_label(&harness, &line(4096)));
    harness
        .get_by_role(egui::accesskit::Role::Slider)
        .set_value_accesskit(8192.0);
    wait_for(&mut harness, "the KV cache for 8192 tokens", |h| {
        has_label(h, &line(8192))
    });
    let estimate = fit_view(&harness, "hubble-tests/llama-fit")
        .unwrap()
        .estimate()
        .unwrap();
    assert_eq!(estimate.context, 8192);
    assert_eq!(estimate.kv_cache_bytes, KV_PER_TOKEN_F16 * 8192);
    assert!(!has_label(&harness, &line(4096)));

    // The pickers: BF16 weights converted to Q8_0 (8.5 bits), a q8_0 KV cache (34 B per 32).
    let combos = |h: &Harness<App>| h.query_all_by_role(egui::accesskit::Role::ComboBox).count();
    assert_eq!(combos(&harness), 2, "weights and KV-cache pickers");
    let combo = |h: &Harness<'static, App>, i: usize| {
        h.query_all_by_role(egui::accesskit::Role::ComboBox)
            .nth(i)
            .unwrap()
            .click();
    };
    combo(&harness, 0);
    harness.run_steps(2);
    harness.get_by_label("Q8_0").click();
    harness.run_steps(2);
    combo(&harness, 1);
    harness.run_steps(2);
    harness.get_by_label("q8_0").click();
    wait_for(&mut harness, "the converted estimate", |h| {
        fit_view(h, "hubble-tests/llama-fit")
            .and_then(FitView::estimate)
            .is_some_and(|e| e.weights_dtype == "Q8_0" && e.kv_type.name() == "q8_0")
    });
    let estimate = fit_view(&harness, "hubble-tests/llama-fit")
        .unwrap()
        .estimate()
        .unwrap();
    let bf16 = parameters - LAYERS * 576;
    assert_eq!(
        estimate.weights_bytes,
        (bf16 as f64 * 8.5 / 8.0).round() as u64 + LAYERS * 576 * 17 / 16
    );
    assert_eq!(
        estimate.kv_cache_bytes,
        KV_PER_TOKEN_F16 / 2 * 8192 * 34 / 32
    );
    assert!(!estimate.weights_exact);
}

#[test]
fn a_model_too_big_for_the_gpu_is_split_between_gpu_and_ram() {
    let hub = FixtureHub::start();
    // ~304M BF16 parameters: ~0.6 GB of weights for a 0.5 GB GPU and 12 GB of free RAM.
    let (repo, parameters) = llama_repo("hubble-tests/llama-big", 16_000);
    hub.add_repo(repo);
    let home = tempfile::tempdir().unwrap();
    let system = system_with_gpu("Small GPU", GB / 2);
    let mut harness = harness_on(&hub, home.path(), system);
    let count = format!("{} parameters", grouped(parameters));
    open_fit_tab(&mut harness, "hubble-tests/llama-big", &count);
    wait_for(&mut harness, "the device verdicts", |h| {
        fit_view(h, "hubble-tests/llama-big").is_some_and(|f| f.verdicts().len() == 2)
    });
    let fit = fit_view(&harness, "hubble-tests/llama-big").unwrap();
    let gpu = &fit.verdicts()[0];
    let Verdict::PartialOffload {
        gpu_layers,
        total_layers,
    } = gpu.verdict
    else {
        panic!("{gpu:?}");
    };
    assert_eq!(total_layers, LAYERS);
    assert!((1..LAYERS).contains(&gpu_layers), "{gpu_layers}");
    assert_eq!(gpu.gpu_bytes + gpu.ram_bytes, gpu.needed);
    assert!(gpu.gpu_bytes <= GB / 2);
    assert_eq!(fit.verdicts()[1].verdict, Verdict::CpuOnly);
    assert!(has_label(
        &harness,
        &format!("partial offload ({gpu_layers}/30 layers on GPU)")
    ));
    assert!(has_label(
        &harness,
        &format!("and {} in RAM", hubble::fit::estimate::gb(gpu.ram_bytes))
    ));
}

#[test]
fn measured_memory_shows_only_once_set() {
    let hub = FixtureHub::start();
    let (repo, parameters) = llama_repo("hubble-tests/llama-measured", 1536);
    hub.add_repo(repo);
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    let count = format!("{} parameters", grouped(parameters));
    open_fit_tab(&mut harness, "hubble-tests/llama-measured", &count);
    assert!(!has_label_containing(&harness, "Measured after loading"));
    let repo = RepoId::parse("hubble-tests/llama-measured").unwrap();
    let app = harness.state_mut().as_mut().unwrap();
    let fit = app.fit_view_mut(&repo).unwrap();
    assert!(fit.measured().is_none());
    fit.set_measured(1_500_000_000, "CPU".into());
    wait_for(&mut harness, "the measured line", |h| {
        has_label_containing(
            h,
            "Measured after loading in Try: 1.50 GB on CPU vs estimated",
        )
    });
    let fit = fit_view(&harness, "hubble-tests/llama-measured").unwrap();
    assert_eq!(fit.measured().unwrap().bytes, 1_500_000_000);
    assert_eq!(fit.measured().unwrap().device, "CPU");
}

/// The device picked in the Try tab leads the verdict: the CPU's for `cpu` and for a software
/// adapter, the GPU's for a wgpu adapter of that name; auto goes back to the best of all.
#[test]
fn the_verdict_follows_the_device_picked_in_try() {
    let hub = FixtureHub::start();
    let (repo, parameters) = llama_repo("hubble-tests/llama-picked", 1536);
    hub.add_repo(repo);
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    let count = format!("{} parameters", grouped(parameters));
    open_fit_tab(&mut harness, "hubble-tests/llama-picked", &count);
    let repo = RepoId::parse("hubble-tests/llama-picked").unwrap();
    let pick = |harness: &mut Harness<'static, App>, label: Option<&str>| {
        let app = harness.state_mut().as_mut().unwrap();
        let fit = app.fit_view_mut(&repo).unwrap();
        fit.set_picked_device(label.map(String::from));
    };
    pick(&mut harness, Some("cpu"));
    wait_for(&mut harness, "the CPU's verdict", |h| {
        has_label_containing(h, "on CPU (RAM) (picked in Try)")
    });
    pick(
        &mut harness,
        Some("wgpu:1 — llvmpipe (LLVM 15) (Vulkan, software)"),
    );
    wait_for(
        &mut harness,
        "a software adapter's verdict is the CPU's",
        |h| has_label_containing(h, "on CPU (RAM) (picked in Try)"),
    );
    pick(
        &mut harness,
        Some("wgpu:0 — Test GPU 8GB (Vulkan, discrete)"),
    );
    wait_for(&mut harness, "the GPU's verdict", |h| {
        has_label_containing(h, "Test GPU 8GB (picked in Try)")
    });
    pick(&mut harness, None);
    wait_for(&mut harness, "the best verdict again", |h| {
        !has_label_containing(h, "(picked in Try)")
    });
}

/// A GGUF file of the SmolLM2 shape whose tensors are of ggml type `type_id`; its header and
/// file length (the data region is virtual).
fn gguf_file(path: &str, type_id: u32, file_type: u32) -> (RepoFile, u64) {
    let metadata = [
        ("general.architecture", GgufValue::String("llama".into())),
        ("general.file_type", GgufValue::Uint(u64::from(file_type))),
        ("llama.block_count", GgufValue::Uint(LAYERS)),
        ("llama.embedding_length", GgufValue::Uint(576)),
        ("llama.attention.head_count", GgufValue::Uint(9)),
        ("llama.attention.head_count_kv", GgufValue::Uint(3)),
        ("llama.context_length", GgufValue::Uint(8192)),
    ];
    let names: Vec<String> = (0..LAYERS)
        .map(|i| format!("blk.{i}.ffn_up.weight"))
        .collect();
    let dims: &[u64] = &[1536, 576];
    let tensors: Vec<(&str, &[u64], u32)> =
        names.iter().map(|n| (n.as_str(), dims, type_id)).collect();
    let (header, data) = gguf::build_header(&metadata, &tensors);
    let len = header.len() as u64 + data;
    let file = RepoFile {
        path: path.into(),
        content: FileContent::HeaderThenVirtual { header, len },
        lfs: true,
    };
    (file, len)
}

#[test]
fn a_gguf_repo_lists_each_quant_file_with_its_size_and_picking_one_reads_its_header() {
    let hub = FixtureHub::start();
    // ggml types: Q4_K = 12 (file type 15 = Q4_K_M), Q8_0 = 8 (7), F16 = 1 (1).
    let files = [
        gguf_file("tiny.Q4_K_M.gguf", 12, 15),
        gguf_file("tiny.Q8_0.gguf", 8, 7),
        gguf_file("tiny.F16.gguf", 1, 1),
    ];
    let sizes: Vec<u64> = files.iter().map(|(_, len)| *len).collect();
    let parameters = LAYERS * 576 * 1536;
    hub.add_repo(Repo {
        files: files.into_iter().map(|(f, _)| f).collect(),
        info_extra: json!({"gguf": {"total": parameters, "architecture": "llama", "context_length": 8192}}),
        ..Repo::new("hubble-tests/quants-GGUF")
    });
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    let count = format!("{} parameters", grouped(parameters));
    open_fit_tab(&mut harness, "hubble-tests/quants-GGUF", &count);
    // One row per file, with its size; Q4_K_M is the default read.
    for (path, size) in ["tiny.Q4_K_M.gguf", "tiny.Q8_0.gguf", "tiny.F16.gguf"]
        .iter()
        .zip(&sizes)
    {
        assert!(has_label(&harness, path), "{path}");
        assert!(
            has_label(&harness, &bytes(*size)),
            "{path} {}",
            bytes(*size)
        );
    }
    for quant in ["Q4_K_M", "Q8_0", "F16"] {
        assert!(has_label(&harness, quant), "{quant}");
    }
    // Each row has its own verdict (all small enough for the GPU here).
    assert_eq!(
        harness
            .query_all_by_label_contains("fits on GPU, needs")
            .count(),
        3
    );
    let estimate = fit_view(&harness, "hubble-tests/quants-GGUF")
        .unwrap()
        .estimate()
        .unwrap()
        .clone();
    assert!(
        estimate.weights_dtype.starts_with("Q4_K_M"),
        "{}",
        estimate.weights_dtype
    );
    assert_eq!(estimate.weights_bytes, parameters / 256 * 144);
    assert!(
        !has_label(&harness, "Weights as"),
        "no dtype picker for GGUF"
    );

    // Picking Q8_0 reads its header (by Range) and drives the bars.
    harness.get_by_label("tiny.Q8_0.gguf").click();
    wait_for(&mut harness, "the Q8_0 estimate", |h| {
        fit_view(h, "hubble-tests/quants-GGUF")
            .and_then(FitView::estimate)
            .is_some_and(|e| e.weights_exact && e.weights_dtype.starts_with("Q8_0"))
    });
    let estimate = fit_view(&harness, "hubble-tests/quants-GGUF")
        .unwrap()
        .estimate()
        .unwrap();
    assert_eq!(estimate.weights_bytes, parameters / 32 * 34);
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.path.ends_with("tiny.Q8_0.gguf") && r.header("range").is_some())
    );
    assert!(
        !hub.requests()
            .iter()
            .any(|r| r.path.ends_with("tiny.F16.gguf")),
        "files not picked are never read"
    );
}

#[test]
fn the_real_smollm2_gguf_shows_its_parameters_and_verdicts() {
    let Some(path) = weights::real_weights("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let hub = FixtureHub::start();
    hub.add_repo(Repo {
        files: vec![RepoFile::lfs(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            std::fs::read(&path).unwrap(),
        )],
        info_extra: json!({"gguf": {"total": 134_515_008u64, "architecture": "llama", "context_length": 8192}}),
        ..Repo::new("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    });
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    open_fit_tab(
        &mut harness,
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
        "134,515,008 parameters",
    );
    assert!(has_label(&harness, "Equal to the Hub's parameter count."));
    wait_for(&mut harness, "the verdicts", |h| {
        fit_view(h, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
            .is_some_and(|f| f.verdicts().len() == 2)
    });
    let fit = fit_view(&harness, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF").unwrap();
    let estimate = fit.estimate().unwrap();
    assert_eq!(estimate.kv_cache_bytes, KV_PER_TOKEN_F16 * 4096);
    assert!(
        estimate.weights_dtype.starts_with("Q4_1"),
        "{}",
        estimate.weights_dtype
    );
    assert_eq!(fit.verdicts()[0].verdict, Verdict::FitsOnGpu);
}

#[test]
fn a_corrupt_weight_file_shows_the_error_and_a_retry() {
    let hub = FixtureHub::start();
    hub.add_repo(Repo {
        files: vec![RepoFile::lfs("model.safetensors", vec![1, 2, 3])],
        ..Repo::new("hubble-tests/corrupt-fit")
    });
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    open_fit_tab(
        &mut harness,
        "hubble-tests/corrupt-fit",
        "ends before its header",
    );
    assert!(has_label(&harness, "Retry"));
    let before = hub.requests().len();
    harness.get_by_label("Retry").click();
    wait_for(&mut harness, "the read again", |_| {
        hub.requests()[before..]
            .iter()
            .any(|r| r.path.ends_with("model.safetensors"))
    });
}

#[test]
fn search_rows_show_a_fit_badge_and_about_shows_the_system() {
    let hub = FixtureHub::start();
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(&hub, home.path());
    harness.step();
    harness
        .get_by_label("Search models")
        .type_text("tiny-model");
    wait_for(&mut harness, "the tiny-model result with its badge", |h| {
        has_label(h, "hubble-tests/tiny-model") && has_label(h, "Fit: GPU")
    });
    let app = harness.state().as_ref().unwrap();
    let row = app
        .search
        .rows
        .iter()
        .find(|r| r.info.id == "hubble-tests/tiny-model")
        .unwrap();
    let badge = row.fit_badge().unwrap();
    assert_eq!(badge.level, BadgeLevel::Gpu);
    // 4 F32 parameters: 16 bytes × 1.2 + 0.3 GB.
    assert_eq!(badge.needed, 300_000_019);
    // No request per row: only searches went out.
    assert!(
        hub.requests().iter().all(|r| r.path == "/api/models"),
        "{:?}",
        hub.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // Hovering explains it.
    harness
        .query_all_by_label("Fit: GPU")
        .next()
        .unwrap()
        .hover();
    wait_for(&mut harness, "the badge's hover text", |h| {
        has_label_containing(h, "Will it fit this machine?")
    });

    harness.get_by_label("About").click();
    wait_for(&mut harness, "the system in About", |h| {
        has_label(h, "This machine")
    });
    assert!(has_label(&harness, "Test CPU 9000 (4 cores, 8 threads)"));
    assert!(has_label(&harness, "avx2 fma"));
    assert!(has_label(&harness, "16.0 GB total, 12.0 GB available"));
    assert!(has_label(
        &harness,
        "Test GPU 8GB (discrete, 8.00 GB, from test)"
    ));
    assert!(has_label_containing(&harness, "in this build, usable"));
}
