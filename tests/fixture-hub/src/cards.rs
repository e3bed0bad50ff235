//! Synthetic repositories built around the real model cards in `fixtures/cards/`.
//!
//! Facets (license, pipeline tag, library, languages, datasets, base models, tags) come from a
//! line scan of each card's YAML front matter; downloads, likes, trending score and dates are
//! derived from the repo id, so they vary but never change between runs.

use std::collections::BTreeMap;
use std::fs;

use serde_json::{Map, Value, json};

use crate::catalog::{fixture_bytes, tiny_safetensors};
use crate::repos::{Gated, Repo, RepoFile};
use crate::util::{fnv, iso_timestamp};

/// Top-level front-matter keys: a scalar becomes one value, a list its items, anything else
/// (a mapping or block scalar) no values.
type FrontMatter = BTreeMap<String, Vec<String>>;

/// Scans YAML front matter (`---` … `---`) for top-level keys with scalar or list values.
/// Good enough for facets; it is not a YAML parser. No front matter gives an empty map.
fn front_matter(card: &str) -> FrontMatter {
    let text = card.replace("\r\n", "\n");
    let mut lines = text.lines();
    let mut out = FrontMatter::new();
    if lines.next().map(str::trim_end) != Some("---") {
        return out;
    }
    let mut current: Option<String> = None;
    for line in lines.take_while(|l| l.trim_end() != "---") {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 0 && !trimmed.starts_with(['-', '#']) {
            let Some((key, rest)) = line.split_once(':') else {
                current = None;
                continue;
            };
            let (key, rest) = (key.trim().to_owned(), rest.trim());
            let values = out.entry(key.clone()).or_default();
            current = None;
            if rest.is_empty() {
                current = Some(key);
            } else if let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                values.extend(inner.split(',').map(unquote).filter(|v| !v.is_empty()));
            } else if !rest.starts_with(['|', '>']) {
                values.push(unquote(rest));
            }
        } else if let (Some(key), Some(item), true) =
            (&current, trimmed.strip_prefix("- "), indent <= 2)
        {
            out.entry(key.clone()).or_default().push(unquote(item));
        }
    }
    out
}

fn unquote(text: &str) -> String {
    let text = text.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner.to_owned();
        }
    }
    text.to_owned()
}

/// Approximate `safetensors.total` parameter counts (and dtype) for some card repos, so that
/// `num_parameters` filters and memory estimates have something to work on.
const PARAMETERS: &[(&str, u64, &str)] = &[
    ("EleutherAI/gpt-j-6b", 6_050_882_784, "F32"),
    ("Qwen/Qwen-72B", 72_287_920_128, "BF16"),
    ("Qwen/Qwen2.5-72B-Instruct", 72_706_203_648, "BF16"),
    ("adept/fuyu-8b", 9_408_238_592, "BF16"),
    ("bigscience/bloom", 176_247_271_424, "BF16"),
    ("openai-community/gpt2-xl", 1_607_879_680, "F32"),
    ("openai/whisper-base", 72_593_920, "F32"),
    ("google/mt5-large", 1_229_581_312, "F32"),
    ("google/vit-base-patch16-224-in21k", 86_389_248, "F32"),
    (
        "ibm-granite/granite-3b-code-instruct-128k",
        3_482_828_800,
        "BF16",
    ),
    ("LiquidAI/LFM2.5-Embedding-350M", 354_483_968, "BF16"),
    (
        "nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4",
        550_000_000_000,
        "BF16",
    ),
    (
        "sentence-transformers/distiluse-base-multilingual-cased-v1",
        135_127_808,
        "F32",
    ),
    ("briaai/RMBG-1.4", 44_077_218, "F32"),
];

/// Card repos that are gated, and how. Any other card with `extra_gated_*` keys is `auto`.
const GATED: &[(&str, Gated)] = &[("CompVis/stable-diffusion-v1-4", Gated::Manual)];

/// Front-matter keys copied into `cardData`.
const CARD_DATA_KEYS: &[&str] = &[
    "license",
    "license_name",
    "license_link",
    "language",
    "tags",
    "datasets",
    "base_model",
    "pipeline_tag",
    "library_name",
    "metrics",
];

/// One synthetic repo per card in `fixtures/cards/`, sorted by id: files `README.md` (the
/// card, byte for byte), `config.json`, `.gitattributes`, and a tiny LFS `model.safetensors`
/// where a parameter count is known. Resolving non-LFS files at `main` answers the real Hub's
/// `307` to `/api/resolve-cache/…`.
///
/// # Panics
/// If the cards folder cannot be read (see [`crate::fixtures_dir`]).
pub fn card_repos() -> Vec<Repo> {
    let dir = crate::fixtures_dir().join("cards");
    let ids = hub_ids(&String::from_utf8_lossy(&fixture_bytes(
        "cards/sources.tsv",
    )));
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".md"))
        .collect();
    names.sort();
    let mut repos: Vec<Repo> = names
        .iter()
        .map(|name| {
            let id = ids.get(name).cloned().unwrap_or_else(|| id_from_file(name));
            card_repo(&id, fixture_bytes(&format!("cards/{name}")))
        })
        .collect();
    repos.sort_by(|a, b| a.id.cmp(&b.id));
    repos
}

/// File name → Hub id from `sources.tsv`, where the `hf_model_id` column holds a real id.
fn hub_ids(tsv: &str) -> BTreeMap<String, String> {
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = header.iter().position(|h| *h == "hf_model_id");
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let id = fields.get(column?)?.trim();
            let valid = id.contains('/') && !id.contains(' ') && !id.starts_with('(');
            valid.then(|| (fields[0].to_owned(), id.to_owned()))
        })
        .collect()
}

/// `org__name__1.md` → `org/name`.
fn id_from_file(name: &str) -> String {
    let stem = name.trim_end_matches(".md");
    let mut parts: Vec<&str> = stem.split("__").collect();
    if parts.len() > 2 {
        parts.pop();
    }
    parts.join("/")
}

fn card_repo(id: &str, card: Vec<u8>) -> Repo {
    let fm = front_matter(&String::from_utf8_lossy(&card));
    let first = |key: &str| fm.get(key).and_then(|v| v.first()).cloned();
    let all = |key: &str| fm.get(key).cloned().unwrap_or_default();
    let license = first("license").map(|l| l.to_lowercase());
    let pipeline = first("pipeline_tag");
    let library = first("library_name");
    let parameters = PARAMETERS.iter().find(|(p, ..)| *p == id);

    let mut tags: Vec<String> = library.iter().cloned().collect();
    if parameters.is_some() {
        tags.push("safetensors".into());
    }
    tags.extend(all("tags"));
    tags.extend(pipeline.clone());
    tags.extend(all("language"));
    tags.extend(all("datasets").iter().map(|d| format!("dataset:{d}")));
    tags.extend(all("base_model").iter().map(|b| format!("base_model:{b}")));
    tags.extend(license.iter().map(|l| format!("license:{l}")));
    tags.push("region:us".into());
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(t.clone()));

    let h = fnv(id);
    let created = 1_609_459_200 + (h >> 8) as i64 % (1400 * 86_400);
    let modified = created + (h >> 16) as i64 % (400 * 86_400);
    let mut extra = json!({
        "tags": tags,
        "downloads": (h % 9_000_000) + 100,
        "likes": (h >> 24) % 5000,
        "trendingScore": (h >> 40) % 300,
        "createdAt": iso_timestamp(created),
        "lastModified": iso_timestamp(modified),
        "cardData": card_data(&fm),
        "config": { "model_type": "fixture" },
    });
    if let Some(p) = pipeline {
        extra["pipeline_tag"] = p.into();
    }
    if let Some(l) = library {
        extra["library_name"] = l.into();
    }

    let mut files = vec![
        RepoFile::new("README.md", card),
        RepoFile::new(
            ".gitattributes",
            fixture_bytes("hub-api/gitattributes__TheBloke__Llama-2-7B-Chat-GGUF.txt"),
        ),
        RepoFile::new(
            "config.json",
            format!("{{\n  \"_name_or_path\": \"{id}\",\n  \"model_type\": \"fixture\"\n}}\n"),
        ),
    ];
    if let Some((_, total, dtype)) = parameters {
        extra["safetensors"] = json!({ "parameters": { *dtype: total }, "total": total });
        files.push(RepoFile::lfs("model.safetensors", tiny_safetensors(id)));
    }
    let gated = match GATED.iter().find(|(g, _)| *g == id) {
        Some((_, gated)) => *gated,
        None if fm.keys().any(|k| k.starts_with("extra_gated_")) => Gated::Auto,
        None => Gated::No,
    };
    Repo {
        files,
        gated,
        info_extra: extra,
        resolve_cache: true,
        ..Repo::new(id)
    }
}

fn card_data(fm: &FrontMatter) -> Value {
    let mut data = Map::new();
    for key in CARD_DATA_KEYS {
        match fm.get(*key).map(Vec::as_slice) {
            Some([one]) if !matches!(*key, "tags" | "datasets") => {
                data.insert((*key).to_owned(), one.clone().into());
            }
            Some(many) if !many.is_empty() => {
                data.insert((*key).to_owned(), many.to_vec().into());
            }
            _ => {}
        }
    }
    Value::Object(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_scalars_lists_flow_lists_and_crlf() {
        let card = "---\r\nlicense: MIT\r\nlanguage:\r\n- en\r\n- 'no'\r\ntags: [a, \"b\"]\r\n\
                    extra_gated_prompt: |-\r\n  text\r\n  - not an item\r\nwidget:\r\n- text: hi\r\n\
                    \x20 example_title: x\r\n---\r\n# Title\r\nlicense: not front matter\r\n";
        let fm = front_matter(card);
        assert_eq!(fm["license"], ["MIT"]);
        assert_eq!(fm["language"], ["en", "no"]);
        assert_eq!(fm["tags"], ["a", "b"]);
        assert!(fm["extra_gated_prompt"].is_empty());
        assert_eq!(fm["widget"], ["text: hi"]);
        assert!(front_matter("# no front matter\n").is_empty());
    }

    #[test]
    fn ids_from_file_names() {
        assert_eq!(id_from_file("KPFBERT__kpfbert__1.md"), "KPFBERT/kpfbert");
        let tsv = "file\trepo\tpath\tcommit\thf_model_id\n\
                   a__b__1.md\tx\ty\tz\t(HF id not verified; GitHub mirror name used)\n\
                   c__d__1.md\tx\ty\tz\tCompVis/stable-diffusion-v1-4\n";
        let ids = hub_ids(tsv);
        assert_eq!(ids.len(), 1);
        assert_eq!(ids["c__d__1.md"], "CompVis/stable-diffusion-v1-4");
    }

    #[test]
    fn card_repos_have_facets() {
        let repos = card_repos();
        assert!(repos.len() >= 30);
        let sd = repos
            .iter()
            .find(|r| r.id == "CompVis/stable-diffusion-v1-4")
            .unwrap();
        assert_eq!(sd.gated, Gated::Manual);
        let tags = sd.info_extra["tags"].as_array().unwrap();
        assert!(tags.contains(&"license:creativeml-openrail-m".into()));
        assert!(tags.contains(&"text-to-image".into()));
        let lfm = repos
            .iter()
            .find(|r| r.id == "LiquidAI/LFM2.5-Embedding-350M")
            .unwrap();
        assert_eq!(lfm.info_extra["library_name"], "sentence-transformers");
        assert_eq!(lfm.info_extra["pipeline_tag"], "sentence-similarity");
        assert!(
            lfm.info_extra["tags"]
                .as_array()
                .unwrap()
                .contains(&"ja".into())
        );
        assert!(repos.iter().any(|r| r.id == "KPFBERT/kpfbert"));
    }
}
