//! Parses the real model cards in the shared fixtures and checks values a
//! person can read in each file.

use std::path::PathBuf;

use hubble::card::{EvalResult, LicenseFamily, ModelCard, Permission};

/// The shared fixtures folder: `$HUBBLE_FIXTURES`, else `shared/fixtures`
/// beside the repository.
fn fixtures_dir() -> PathBuf {
    match std::env::var_os("HUBBLE_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

fn cards_dir() -> PathBuf {
    fixtures_dir().join("cards")
}

/// Reads and parses `cards/<stem>__1.md`.
fn card(stem: &str) -> ModelCard {
    let path = cards_dir().join(format!("{stem}__1.md"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    ModelCard::parse(&text)
}

/// One model-index row as a line a person can check against the card:
/// `task | dataset (type, config, split) | metric (name) = value [verified]`.
fn describe(row: &EvalResult) -> String {
    let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let verified = match row.verified {
        Some(true) => " verified",
        Some(false) => " unverified",
        None => "",
    };
    format!(
        "{} | {} ({}, {}, {}) | {} ({}) = {}{verified}",
        text(&row.task_type),
        text(&row.dataset_name),
        text(&row.dataset_type),
        text(&row.dataset_config),
        text(&row.dataset_split),
        text(&row.metric_type),
        text(&row.metric_name),
        text(&row.value),
    )
}

fn describe_all(rows: &[EvalResult]) -> Vec<String> {
    rows.iter().map(describe).collect()
}

#[test]
fn every_fixture_parses_and_bodies_lose_the_front_matter() {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(cards_dir())
        .unwrap_or_else(|err| panic!("listing {}: {err}", cards_dir().display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    let mut markdown_cards = 0;
    for path in &entries {
        let bytes =
            std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let card = ModelCard::parse(&String::from_utf8_lossy(&bytes));
        if path.extension().is_some_and(|ext| ext == "md") {
            markdown_cards += 1;
            let name = path.display();
            assert!(
                !card.body.trim_start().starts_with("---"),
                "{name}: body starts with ---"
            );
            assert!(card.warnings.is_empty(), "{name}: {:?}", card.warnings);
            assert!(serde_json::to_string(&card).is_ok(), "{name}: JSON");
        }
    }
    assert!(
        markdown_cards >= 30,
        "found only {markdown_cards} cards in {}",
        cards_dir().display()
    );
}

#[test]
fn bodies_keep_their_headings() {
    let cases = [
        (
            "BandaiNamcoResearchInc__DistilBERT-base-jp",
            "# Japanese DistilBERT Pretrained Model",
        ),
        (
            "CompVis__stable-diffusion-v1-4",
            "# Stable Diffusion v1-4 Model Card",
        ),
        ("EleutherAI__gpt-j-6b", "# GPT-J 6B"),
        ("KPFBERT__kpfbert", "# KPF BERT"),
        ("LiquidAI__LFM2.5-Embedding-350M", "# LFM2.5-Embedding-350M"),
        ("MiniMaxAI__MiniMax-M3", "## MiniMax Sparse Attention (MSA)"),
        ("Qwen__Qwen2.5-72B-Instruct", "# Qwen2.5-72B-Instruct"),
        ("adept__fuyu-8b", "# Fuyu-8B Model Card"),
        ("aspire__acge_text_embedding", "## acge model"),
        ("bigscience__bloom", "# Model Details"),
        (
            "briaai__RMBG-1.4",
            "# BRIA Background Removal v1.4 Model Card",
        ),
        ("huggingface-hub-tests__sample_no_metadata", "# MyCoolModel"),
        (
            "huggingface-hub-tests__sample_windows_line_breaks",
            "# Hello old Windows line breaks",
        ),
        (
            "ibm-granite__granite-3b-code-instruct-128k",
            "# Granite-3B-Code-Instruct-128K",
        ),
        (
            "nvidia__NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4",
            "## Model Summary",
        ),
        ("openai__whisper-base", "# Whisper"),
    ];
    for (stem, heading) in cases {
        let card = card(stem);
        assert!(
            card.body.contains(heading),
            "{stem}: body lacks {heading:?}"
        );
    }
    assert!(
        card("adept__fuyu-8b")
            .body
            .starts_with("# Fuyu-8B Model Card\n")
    );
    assert!(card("KPFBERT__kpfbert").body.starts_with("# KPF BERT\n"));
}

#[test]
fn licenses_as_declared() {
    // (card, license id, family, full name)
    let cases = [
        (
            "openai__whisper-base",
            Some("apache-2.0"),
            LicenseFamily::Permissive,
            "Apache license 2.0",
        ),
        (
            "openai-community__gpt2-xl",
            Some("mit"),
            LicenseFamily::Permissive,
            "MIT",
        ),
        (
            "BandaiNamcoResearchInc__DistilBERT-base-jp",
            Some("mit"),
            LicenseFamily::Permissive,
            "MIT",
        ),
        (
            "Dogacel__specdrift-gpt-oss-120b-eagle3",
            Some("cc-by-4.0"),
            LicenseFamily::Permissive,
            "Creative Commons Attribution 4.0",
        ),
        (
            "CompVis__stable-diffusion-v1-4",
            Some("creativeml-openrail-m"),
            LicenseFamily::OpenRail,
            "CreativeML OpenRAIL-M",
        ),
        (
            "bigscience__bloom",
            Some("bigscience-bloom-rail-1.0"),
            LicenseFamily::OpenRail,
            "BigScience BLOOM RAIL 1.0",
        ),
        (
            "adept__fuyu-8b",
            Some("cc-by-nc-4.0"),
            LicenseFamily::NonCommercial,
            "Creative Commons Attribution Non Commercial 4.0",
        ),
        ("Qwen__Qwen-72B", None, LicenseFamily::Unknown, "No license"),
        (
            "KPFBERT__kpfbert",
            None,
            LicenseFamily::Unknown,
            "No license",
        ),
        (
            "lightseekorg__kimi-k2.6-eagle3-mla",
            Some("other"),
            LicenseFamily::Unknown,
            "Other",
        ),
    ];
    for (stem, id, family, name) in cases {
        let license = card(stem).license();
        assert_eq!(license.id.as_deref(), id, "{stem}");
        assert_eq!(license.family, family, "{stem}");
        assert_eq!(license.name, name, "{stem}");
    }
    let stable_diffusion = card("CompVis__stable-diffusion-v1-4").license();
    assert!(stable_diffusion.conditions.use_restrictions);
    assert_eq!(
        stable_diffusion.link.as_deref(),
        Some("https://huggingface.co/spaces/CompVis/stable-diffusion-license")
    );
    let fuyu = card("adept__fuyu-8b").license();
    assert_eq!(fuyu.conditions.commercial_use, Permission::NotAllowed);
    assert!(
        fuyu.conditions
            .notes
            .iter()
            .any(|note| note == "Non-commercial use only")
    );
    // Written `MIT` in the card: matched case-insensitively.
    assert_eq!(
        card("BandaiNamcoResearchInc__DistilBERT-base-jp")
            .metadata
            .license
            .as_deref(),
        Some("MIT")
    );
}

#[test]
fn other_licenses_use_name_and_link() {
    // (card, license_name, license_link)
    let cases = [
        ("LiquidAI__LFM2.5-Embedding-350M", "lfm1.0", "LICENSE"),
        ("MiniMaxAI__MiniMax-M3", "minimax-community", "LICENSE"),
        (
            "Qwen__Qwen2.5-72B-Instruct",
            "qwen",
            "https://huggingface.co/Qwen/Qwen2.5-72B-Instruct/blob/main/LICENSE",
        ),
        (
            "briaai__RMBG-1.4",
            "bria-rmbg-1.4",
            "https://bria.ai/bria-huggingface-model-license-agreement/",
        ),
    ];
    for (stem, name, link) in cases {
        let card = card(stem);
        assert_eq!(card.metadata.license.as_deref(), Some("other"), "{stem}");
        assert_eq!(card.metadata.license_name.as_deref(), Some(name), "{stem}");
        assert_eq!(card.metadata.license_link.as_deref(), Some(link), "{stem}");
        let license = card.license();
        assert_eq!(license.family, LicenseFamily::ModelSpecific, "{stem}");
        assert_eq!(license.name, name, "{stem}");
        assert_eq!(license.link.as_deref(), Some(link), "{stem}");
    }
    // `license_link: >-` folded onto the next line; the name is itself a Hub id.
    let nemotron = card("nvidia__NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4");
    assert_eq!(
        nemotron.metadata.license_name.as_deref(),
        Some("openmdw-1.1")
    );
    assert_eq!(
        nemotron.metadata.license_link.as_deref(),
        Some("https://openmdw.ai/license/1-1/")
    );
    let license = nemotron.license();
    assert_eq!(license.family, LicenseFamily::Permissive);
    assert_eq!(
        license.name,
        "Open Model, Data & Weights License Agreement v1.1"
    );
}

#[test]
fn tasks_libraries_and_languages() {
    // (card, pipeline_tag, library_name)
    let cases = [
        (
            "openai__whisper-base",
            Some("automatic-speech-recognition"),
            None,
        ),
        (
            "NbAiLab__nb-whisper-small-beta",
            Some("automatic-speech-recognition"),
            Some("transformers"),
        ),
        (
            "sentence-transformers__distiluse-base-multilingual-cased-v1",
            Some("sentence-similarity"),
            Some("sentence-transformers"),
        ),
        (
            "LiquidAI__LFM2.5-Embedding-350M",
            Some("sentence-similarity"),
            Some("sentence-transformers"),
        ),
        (
            "Inferact__MiniMax-M3-EAGLE3",
            Some("text-generation"),
            Some("transformers"),
        ),
        (
            "baidu__Unlimited-OCR",
            Some("image-text-to-text"),
            Some("transformers"),
        ),
        ("briaai__RMBG-1.4", Some("image-segmentation"), None),
        (
            "openai__privacy-filter",
            Some("token-classification"),
            Some("transformers"),
        ),
        ("hexgrad__Kokoro-82M", Some("text-to-speech"), None),
        ("google__vit-base-patch16-224-in21k", None, None),
    ];
    for (stem, pipeline_tag, library_name) in cases {
        let metadata = card(stem).metadata;
        assert_eq!(metadata.pipeline_tag.as_deref(), pipeline_tag, "{stem}");
        assert_eq!(metadata.library_name.as_deref(), library_name, "{stem}");
    }

    // (card, language list)
    let languages: [(&str, &[&str]); 6] = [
        ("huggingface-hub-tests__sample_windows_line_breaks", &["eo"]),
        ("BandaiNamcoResearchInc__DistilBERT-base-jp", &["Japanese"]),
        ("somosnlp__wav2vec2-spanish", &["es"]),
        ("Qwen__Qwen-72B", &["zh", "en"]),
        ("NbAiLab__nb-whisper-small-beta", &["no", "nb", "nn", "en"]),
        (
            "LiquidAI__LFM2.5-Embedding-350M",
            &[
                "en", "es", "de", "fr", "it", "pt", "ar", "sv", "no", "ja", "ko",
            ],
        ),
    ];
    for (stem, expected) in languages {
        assert_eq!(card(stem).metadata.language, expected, "{stem}");
    }
    // Unquoted `- no` (Norwegian) stays the text "no".
    let whisper = card("openai__whisper-base").metadata.language;
    assert_eq!(
        (whisper.len(), whisper.first().map(String::as_str)),
        (99, Some("en"))
    );
    assert!(whisper.iter().any(|code| code == "no"));
    let mt5 = card("google__mt5-large").metadata;
    assert_eq!(
        mt5.language.first().map(String::as_str),
        Some("multilingual")
    );
    assert!(mt5.language.iter().any(|code| code == "no"));
    assert_eq!(mt5.datasets, ["mc4"]);
    let bloom = card("bigscience__bloom").metadata.language;
    assert_eq!(
        (
            bloom.len(),
            bloom.first().map(String::as_str),
            bloom.last().map(String::as_str)
        ),
        (46, Some("ak"), Some("zu"))
    );
}

#[test]
fn datasets_base_models_and_switches() {
    let dogacel = card("Dogacel__specdrift-gpt-oss-120b-eagle3").metadata;
    assert_eq!(
        dogacel.datasets,
        ["Dogacel/nemotron-post-training-v2-gpt-oss-120b-regen"]
    );
    assert_eq!(dogacel.base_model, ["openai/gpt-oss-120b"]);
    assert_eq!(
        card("Qwen__Qwen2.5-72B-Instruct").metadata.base_model,
        ["Qwen/Qwen2.5-72B"]
    );
    assert_eq!(
        card("RedHatAI__Kimi-K2.6-NVFP4").metadata.base_model,
        ["moonshotai/Kimi-K2.6"]
    );
    assert_eq!(
        card("somosnlp__wav2vec2-spanish").metadata.datasets,
        ["common_voice"]
    );

    let vit = card("google__vit-base-patch16-224-in21k").metadata;
    assert_eq!(vit.datasets, ["imagenet-21k"]);
    assert_eq!(
        vit.inference.map(|inference| inference.enabled),
        Some(false)
    );
    assert_eq!(
        card("Qwen__Qwen-72B")
            .metadata
            .inference
            .map(|inference| inference.enabled),
        Some(false)
    );
    assert_eq!(card("openai__whisper-base").metadata.inference, None);

    assert!(card("openai__whisper-base").metadata.has_widget);
    assert!(
        card("huggingface-hub-tests__sample_windows_line_breaks")
            .metadata
            .has_widget
    );
    assert!(!card("adept__fuyu-8b").metadata.has_widget);

    let granite = card("ibm-granite__granite-3b-code-instruct-128k").metadata;
    assert_eq!(granite.datasets.len(), 9);
    assert_eq!(
        granite.datasets.first().map(String::as_str),
        Some("bigcode/commitpackft")
    );
    assert_eq!(granite.tags, ["code", "granite"]);
}

#[test]
fn gated_access_fields() {
    let bria = card("briaai__RMBG-1.4").metadata;
    assert_eq!(
        bria.extra_gated_heading.as_deref(),
        Some("Fill in this form to get instant access")
    );
    assert_eq!(
        bria.extra_gated_description.as_deref(),
        Some("RMBG v1.4 is available as a source-available model for non-commercial use")
    );
    let labels: Vec<&str> = bria
        .extra_gated_fields
        .iter()
        .map(|(label, _)| label.as_str())
        .collect();
    assert_eq!(
        labels[..6],
        [
            "Name",
            "Company/Org name",
            "Org Type (Early/Growth Startup, Enterprise, Academy)",
            "Role",
            "Country",
            "Email"
        ]
    );
    let last = bria
        .extra_gated_fields
        .last()
        .map(|(label, kind)| (label.as_str(), kind.as_str()));
    assert_eq!(
        last,
        Some((
            "By submitting this form, I agree to BRIA’s Privacy policy and Terms & conditions, see links below",
            "checkbox"
        ))
    );

    let stable_diffusion = card("CompVis__stable-diffusion-v1-4").metadata;
    assert_eq!(
        stable_diffusion.extra_gated_heading.as_deref(),
        Some("Please read the LICENSE to access this model")
    );
    let prompt = stable_diffusion.extra_gated_prompt.unwrap_or_default();
    assert!(prompt.starts_with(
        "This model is open access and available to all, with a CreativeML OpenRAIL-M license"
    ));
    assert!(prompt.contains("https://huggingface.co/spaces/CompVis/stable-diffusion-license"));
}

#[test]
fn whisper_base_model_index() {
    let rows = card("openai__whisper-base").metadata.model_index;
    assert_eq!(
        describe_all(&rows),
        [
            "automatic-speech-recognition | LibriSpeech (clean) (librispeech_asr, clean, test) | wer (Test WER) = 5.008769117619326",
            "automatic-speech-recognition | LibriSpeech (other) (librispeech_asr, other, test) | wer (Test WER) = 12.84936273212057",
            "automatic-speech-recognition | Common Voice 11.0 (mozilla-foundation/common_voice_11_0, hi, test) | wer (Test WER) = 131",
        ]
    );
    assert!(
        rows.iter()
            .all(|row| row.model_name.as_deref() == Some("whisper-base"))
    );
    assert!(
        rows.iter()
            .all(|row| row.task_name.as_deref() == Some("Automatic Speech Recognition"))
    );
}

#[test]
fn bloom_model_index() {
    let rows = card("bigscience__bloom").metadata.model_index;
    assert_eq!(
        describe_all(&rows),
        [
            "text-generation | humaneval (openai_humaneval, -, -) | pass@1 (pass@1) = 0.15542682926829265 unverified",
            "text-generation | humaneval (openai_humaneval, -, -) | pass@10 (pass@10) = 0.3278356276947017 unverified",
            "text-generation | humaneval (openai_humaneval, -, -) | pass@100 (pass@100) = 0.5719815685597749 unverified",
        ]
    );
    assert_eq!(rows[0].model_name.as_deref(), Some("bloom"));
}

#[test]
fn granite_model_index() {
    let rows = card("ibm-granite__granite-3b-code-instruct-128k")
        .metadata
        .model_index;
    let python = "text-generation | HumanEvalSynthesis (Python) (bigcode/humanevalpack, -, -) | pass@1 (pass@1) = 53.7 unverified";
    let repoqa = "text-generation | RepoQA (Python@16K) (repoqa, -, -) | pass@1 (thresh=0.5) (pass@1 (thresh=0.5)) = 48.0 unverified";
    let described = describe_all(&rows);
    assert_eq!(
        (
            described.len(),
            described[0].as_str(),
            described[4].as_str()
        ),
        (9, python, repoqa)
    );
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| {
            (
                row.dataset_name.as_deref().unwrap_or(""),
                row.value.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("HumanEvalSynthesis (Python)", "53.7"),
            ("HumanEvalSynthesis (Average)", "41.4"),
            ("HumanEvalExplain (Average)", "25.1"),
            ("HumanEvalFix (Average)", "26.2"),
            ("RepoQA (Python@16K)", "48.0"),
            ("RepoQA (C++@16K)", "36.0"),
            ("RepoQA (Java@16K)", "38.0"),
            ("RepoQA (TypeScript@16K)", "39.0"),
            ("RepoQA (Rust@16K)", "29.0"),
        ]
    );
    assert_eq!(
        rows[0].model_name.as_deref(),
        Some("granite-3b-code-instruct-128k")
    );
}

#[test]
fn aspire_model_index() {
    let rows = card("aspire__acge_text_embedding").metadata.model_index;
    let described = describe_all(&rows);
    assert_eq!(described.len(), 367);
    assert_eq!(
        described[0],
        "STS | MTEB AFQMC (C-MTEB/AFQMC, default, validation) | cos_sim_pearson (-) = 54.03434872650919"
    );
    let amazon: Vec<&String> = described
        .iter()
        .filter(|line| line.contains("mteb/amazon_reviews_multi"))
        .collect();
    assert_eq!(
        amazon,
        [
            "Classification | MTEB AmazonReviewsClassification (zh) (mteb/amazon_reviews_multi, zh, test) | accuracy (-) = 48.538000000000004",
            "Classification | MTEB AmazonReviewsClassification (zh) (mteb/amazon_reviews_multi, zh, test) | f1 (-) = 46.59920995594044",
        ]
    );
    assert_eq!(
        described.last().map(String::as_str),
        Some(
            "Classification | MTEB Waimai (C-MTEB/waimai-classification, default, test) | f1 (-) = 87.06093694294485"
        )
    );
    assert!(
        rows.iter()
            .all(|row| row.model_name.as_deref() == Some("acge_text_embedding"))
    );
}

#[test]
fn line_endings_and_missing_front_matter() {
    let windows = card("huggingface-hub-tests__sample_windows_line_breaks");
    assert_eq!(windows.metadata.license.as_deref(), Some("mit"));
    assert!(
        windows
            .front_matter
            .as_deref()
            .is_some_and(|yaml| yaml.starts_with("license: mit\r\n"))
    );
    assert!(
        windows
            .body
            .starts_with("\r\n# Hello old Windows line breaks")
    );

    let bandai = card("BandaiNamcoResearchInc__DistilBERT-base-jp");
    assert_eq!(
        bandai.front_matter.as_deref(),
        Some("language: Japanese\r\nlicense: MIT")
    );

    let path = cards_dir().join("huggingface-hub-tests__sample_no_metadata__1.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let no_metadata = ModelCard::parse(&text);
    assert_eq!(no_metadata.front_matter, None);
    assert_eq!(no_metadata.body, text);
    assert_eq!(no_metadata.metadata.raw, serde_json::Value::Null);
    assert_eq!(no_metadata.license().name, "No license");
}
