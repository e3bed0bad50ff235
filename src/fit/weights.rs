//! A repository's weights, sized exactly from file headers: one safetensors file, a sharded
//! set (`model.safetensors.index.json` → unique shard files), GGUF files (one, or the
//! `-00001-of-0000N` shards of one), or, for repos with only PyTorch pickles, the file sizes
//! (marked approximate).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::error::FitError;
use super::gguf::GgufHeader;
use super::remote::{HeaderRead, read_gguf, read_safetensors};
use super::safetensors::DtypeTotals;
use crate::hub::{HubClient, ModelInfo, RepoId};

/// The index of a sharded safetensors checkpoint.
pub const SAFETENSORS_INDEX: &str = "model.safetensors.index.json";

/// Largest index file read (they are a few hundred KB).
const MAX_INDEX: usize = 32 * 1024 * 1024;

/// The format the weights are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    /// safetensors (one file or shards): exact.
    Safetensors,
    /// GGUF: exact.
    Gguf,
    /// PyTorch pickles (`.bin`, `.pt`, `.pth`, `.ckpt`): file sizes only, approximate.
    Pytorch,
    /// The safetensors of a diffusers pipeline's components (text encoders, UNet or
    /// transformer, VAE), one file each as Hubble loads them: exact.
    DiffusersPipeline,
}

/// One file that holds weights.
#[derive(Debug, Clone, Serialize)]
pub struct WeightFile {
    /// Path in the repository.
    pub path: String,
    /// File size in bytes, when known.
    pub size: Option<u64>,
    /// Parameters in it (`None` when only its size is known).
    pub parameters: Option<u64>,
    /// Bytes of tensor data (the file size for pickles).
    pub bytes: u64,
    /// Header bytes received to size it.
    pub bytes_received: u64,
}

/// A repository's weights.
#[derive(Debug, Clone, Serialize)]
pub struct Weights {
    /// Their format.
    pub format: WeightFormat,
    /// The files read.
    pub files: Vec<WeightFile>,
    /// Total parameters (`None` when approximate).
    pub parameters: Option<u64>,
    /// Bytes of tensor data over every file.
    pub bytes: u64,
    /// Parameters and bytes per dtype (safetensors: `F32`, `BF16`…; GGUF: ggml types).
    pub by_dtype: BTreeMap<String, DtypeTotals>,
    /// Whether the numbers come from headers (true) or only from file sizes (false).
    pub exact: bool,
    /// The Hub's own count (`safetensors.total` or `gguf.total`), when it has one.
    pub hub_total: Option<u64>,
    /// The GGUF header (of the first shard) for GGUF weights.
    #[serde(skip)]
    pub gguf: Option<GgufHeader>,
    /// Other GGUF files in the repository (other quantisations), with their sizes.
    pub gguf_files: Vec<GgufChoice>,
}

impl Weights {
    /// Whether our parameter count equals the Hub's, when both exist.
    pub fn matches_hub(&self) -> Option<bool> {
        Some(self.parameters? == self.hub_total?)
    }

    /// Bytes per parameter over floating-point weights as stored (e.g. 4 for F32, 2 for BF16).
    pub fn float_parameters(&self) -> u64 {
        self.by_dtype
            .iter()
            .filter(|(dtype, _)| super::dtype::safetensors_is_float(dtype))
            .map(|(_, t)| t.parameters)
            .sum()
    }
}

/// A GGUF file of a repository: one quantisation to pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GgufChoice {
    /// Path (of the first shard for split files).
    pub path: String,
    /// Bytes over all its shards, when known.
    pub size: Option<u64>,
    /// The quantisation named in the file name (`Q4_K_M`), if any.
    pub quant: Option<String>,
}

/// Sizes the weights of `model` (from [`HubClient::model_info`]); `file` picks one file
/// (a `.safetensors`, `.gguf`, the safetensors index, or a pickle) instead of the default
/// choice.
pub async fn read_weights(
    client: &HubClient,
    repo: &RepoId,
    model: &ModelInfo,
    file: Option<&str>,
) -> Result<Weights, FitError> {
    let revision = model.sha.as_deref();
    let paths: Vec<&str> = model.siblings.iter().map(|s| s.path.as_str()).collect();
    let size_of = |path: &str| {
        model
            .siblings
            .iter()
            .find(|s| s.path == path)
            .and_then(|s| s.size)
    };
    let gguf_files = gguf_choices(model);
    if file.is_none() && paths.contains(&"model_index.json") {
        let components = pipeline_files(&paths);
        if components.is_empty() {
            return Err(FitError::NoWeights(format!(
                "{repo} is a diffusers pipeline without safetensors components"
            )));
        }
        let mut reads = Vec::new();
        for component in &components {
            reads.push(read_safetensors(client, repo, revision, component).await?);
        }
        let mut weights = from_safetensors(reads, None, gguf_files);
        weights.format = WeightFormat::DiffusersPipeline;
        return Ok(weights);
    }
    let choice = match file {
        Some(file) => {
            if !paths.contains(&file) {
                return Err(FitError::NoWeights(format!(
                    "{repo} has no file {file:?} (see `hubble info {repo}`)"
                )));
            }
            file.to_string()
        }
        None => default_choice(&paths, &gguf_files).ok_or_else(|| {
            FitError::NoWeights(format!(
                "{repo} has no safetensors, GGUF or PyTorch weight files at its top level"
            ))
        })?,
    };
    let hub_safetensors = model.safetensors.as_ref().and_then(|s| s.total);
    let hub_gguf = model.gguf.as_ref().and_then(|g| g.total);
    if choice == SAFETENSORS_INDEX {
        let shards = read_index(client, repo, revision).await?;
        let mut reads = Vec::new();
        for shard in &shards {
            reads.push(read_safetensors(client, repo, revision, shard).await?);
        }
        return Ok(from_safetensors(reads, hub_safetensors, gguf_files));
    }
    if choice.ends_with(".safetensors") {
        let read = read_safetensors(client, repo, revision, &choice).await?;
        let hub = if file.is_none() || paths.iter().filter(|p| is_safetensors(p)).count() == 1 {
            hub_safetensors
        } else {
            None
        };
        return Ok(from_safetensors(vec![read], hub, gguf_files));
    }
    if choice.ends_with(".gguf") {
        let mut reads = Vec::new();
        for shard in gguf_shards(&choice, &paths) {
            reads.push(read_gguf(client, repo, revision, &shard).await?);
        }
        // The Hub's gguf.total describes one file; a repo of several quants has the same count
        // in each.
        return Ok(from_gguf(reads, hub_gguf, gguf_files));
    }
    let files: Vec<WeightFile> = pickle_files(&paths, &choice)
        .into_iter()
        .map(|path| WeightFile {
            size: size_of(&path),
            bytes: size_of(&path).unwrap_or(0),
            path,
            parameters: None,
            bytes_received: 0,
        })
        .collect();
    Ok(Weights {
        format: WeightFormat::Pytorch,
        parameters: None,
        bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        by_dtype: BTreeMap::new(),
        exact: false,
        hub_total: hub_safetensors,
        gguf: None,
        gguf_files,
    })
}

/// The components of a diffusers pipeline Hubble runs and the one safetensors file of each it
/// loads: `<folder>/<name>.safetensors`, else the `.fp16` variant.
pub fn pipeline_files(paths: &[&str]) -> Vec<String> {
    const COMPONENTS: [(&str, &str); 5] = [
        ("text_encoder", "model"),
        ("text_encoder_2", "model"),
        ("unet", "diffusion_pytorch_model"),
        ("transformer", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
    ];
    COMPONENTS
        .iter()
        .filter_map(|(folder, name)| {
            [
                format!("{folder}/{name}.safetensors"),
                format!("{folder}/{name}.fp16.safetensors"),
            ]
            .into_iter()
            .find(|candidate| paths.contains(&candidate.as_str()))
        })
        .collect()
}

fn is_safetensors(path: &str) -> bool {
    !path.contains('/') && path.ends_with(".safetensors")
}

fn is_pickle(path: &str) -> bool {
    !path.contains('/')
        && [".bin", ".pt", ".pth", ".ckpt"]
            .iter()
            .any(|ext| path.ends_with(ext))
        && !path.starts_with("training_args")
        && !path.starts_with("optimizer")
}

/// The weights Hubble sizes when no file is named: the safetensors index, `model.safetensors`,
/// the only top-level safetensors file, a GGUF file (`Q4_K_M` if present, else the first),
/// else the PyTorch pickles.
fn default_choice(paths: &[&str], ggufs: &[GgufChoice]) -> Option<String> {
    if paths.contains(&SAFETENSORS_INDEX) {
        return Some(SAFETENSORS_INDEX.into());
    }
    if paths.contains(&"model.safetensors") {
        return Some("model.safetensors".into());
    }
    let safetensors: Vec<&&str> = paths.iter().filter(|p| is_safetensors(p)).collect();
    if let Some(first) = safetensors.first() {
        return Some(first.to_string());
    }
    if let Some(choice) = ggufs
        .iter()
        .find(|g| g.quant.as_deref() == Some("Q4_K_M"))
        .or_else(|| ggufs.first())
    {
        return Some(choice.path.clone());
    }
    paths.iter().find(|p| is_pickle(p)).map(|p| p.to_string())
}

/// Every pickle that belongs with `choice`: all top-level pickles sharing its stem before the
/// shard suffix (`pytorch_model-00001-of-00002.bin` → all shards), or just `choice`.
fn pickle_files(paths: &[&str], choice: &str) -> Vec<String> {
    let stem = shard_stem(choice);
    let mut files: Vec<String> = paths
        .iter()
        .filter(|p| is_pickle(p) && shard_stem(p) == stem)
        .map(|p| p.to_string())
        .collect();
    if files.is_empty() {
        files.push(choice.to_string());
    }
    files
}

/// `name-00001-of-00003.ext` → `Some(("name", "-of-00003.ext"))`.
fn split_shard(path: &str) -> Option<(&str, &str)> {
    let of = path.rfind("-of-")?;
    let dash = path[..of].rfind('-')?;
    let index = &path[dash + 1..of];
    (!index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (&path[..dash], &path[of..]))
}

fn shard_stem(path: &str) -> String {
    match split_shard(path) {
        Some((stem, rest)) => format!("{stem}{rest}"),
        None => path.to_string(),
    }
}

/// The shards of a split GGUF file named by any of them, in order; or just `path`.
fn gguf_shards(path: &str, paths: &[&str]) -> Vec<String> {
    let stem = shard_stem(path);
    let mut shards: Vec<String> = paths
        .iter()
        .filter(|p| p.ends_with(".gguf") && split_shard(p).is_some() && shard_stem(p) == stem)
        .map(|p| p.to_string())
        .collect();
    shards.sort();
    if shards.is_empty() {
        shards.push(path.to_string());
    }
    shards
}

/// The GGUF files of a repository, split files as one entry, with their quantisation names.
pub fn gguf_choices(model: &ModelInfo) -> Vec<GgufChoice> {
    let mut choices: BTreeMap<String, GgufChoice> = BTreeMap::new();
    for sibling in model.siblings.iter().filter(|s| s.path.ends_with(".gguf")) {
        let key = shard_stem(&sibling.path);
        let entry = choices.entry(key).or_insert_with(|| GgufChoice {
            path: sibling.path.clone(),
            size: Some(0),
            quant: quant_name(&sibling.path),
        });
        entry.size = entry.size.zip(sibling.size).map(|(a, b)| a + b);
        if sibling.path < entry.path {
            entry.path = sibling.path.clone();
        }
    }
    choices.into_values().collect()
}

/// The quantisation in a GGUF file name: `model.Q4_K_M.gguf`, `model-q8_0.gguf` → `Q4_K_M`,
/// `Q8_0`; also `F16`, `BF16`, `F32`, `IQ…`.
pub fn quant_name(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?.strip_suffix(".gguf")?;
    let name = split_shard(name).map_or(name, |(stem, _)| stem);
    name.split(['.', '-', '_'])
        .enumerate()
        .find_map(|(i, part)| {
            let upper = part.to_ascii_uppercase();
            let digits = ["IQ", "TQ", "Q"]
                .iter()
                .find_map(|prefix| upper.strip_prefix(prefix));
            let quantish =
                digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            let float = matches!(upper.as_str(), "F16" | "BF16" | "F32" | "FP16" | "MXFP4");
            (quantish || float).then_some(i)
        })
        .map(|start| {
            // Rejoin `Q4`, `K`, `M` pieces split on `_`.
            let parts: Vec<&str> = name.split(['.', '-', '_']).skip(start).collect();
            let mut out = parts[0].to_ascii_uppercase();
            for part in &parts[1..] {
                let upper = part.to_ascii_uppercase();
                if matches!(
                    upper.as_str(),
                    "K" | "S" | "M" | "L" | "XS" | "XXS" | "NL" | "0" | "1"
                ) {
                    out.push('_');
                    out.push_str(&upper);
                } else {
                    break;
                }
            }
            out
        })
}

/// Reads `model.safetensors.index.json` and returns its unique shard files, sorted.
async fn read_index(
    client: &HubClient,
    repo: &RepoId,
    revision: Option<&str>,
) -> Result<Vec<String>, FitError> {
    let bytes = client
        .fetch_file(repo, revision, SAFETENSORS_INDEX, MAX_INDEX)
        .await?;
    let bad = |detail: String| FitError::Format {
        path: SAFETENSORS_INDEX.into(),
        error: super::FormatError::Invalid(detail),
    };
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no `weight_map` object".into()))?;
    let mut shards = BTreeSet::new();
    for file in map.values() {
        let file = file
            .as_str()
            .ok_or_else(|| bad("a `weight_map` value is not a file name".into()))?;
        if file.contains("..") || file.starts_with('/') {
            return Err(bad(format!("shard path {file:?} leaves the repository")));
        }
        shards.insert(file.to_string());
    }
    if shards.is_empty() {
        return Err(bad("`weight_map` is empty".into()));
    }
    Ok(shards.into_iter().collect())
}

fn from_safetensors(
    reads: Vec<HeaderRead<super::safetensors::SafetensorsHeader>>,
    hub_total: Option<u64>,
    gguf_files: Vec<GgufChoice>,
) -> Weights {
    let files = reads.iter().map(|read| {
        let totals = read.header.by_dtype().into_iter();
        let totals = totals.map(|(name, t)| (name, t.parameters, t.bytes));
        let file = weight_file(read, read.header.parameters(), read.header.data_bytes());
        (file, totals.collect())
    });
    summarize(
        WeightFormat::Safetensors,
        files.collect(),
        hub_total,
        None,
        gguf_files,
    )
}

fn from_gguf(
    reads: Vec<HeaderRead<GgufHeader>>,
    hub_total: Option<u64>,
    gguf_files: Vec<GgufChoice>,
) -> Weights {
    let files = reads.iter().map(|read| {
        let totals = read.header.by_type().into_iter();
        let totals = totals.map(|(name, t)| (name, t.parameters, t.bytes));
        let file = weight_file(read, read.header.parameters(), read.header.tensor_bytes());
        (file, totals.collect())
    });
    let files = files.collect();
    let gguf = reads.into_iter().next().map(|r| r.header);
    summarize(WeightFormat::Gguf, files, hub_total, gguf, gguf_files)
}

fn weight_file<T>(read: &HeaderRead<T>, parameters: u64, bytes: u64) -> WeightFile {
    WeightFile {
        path: read.path.clone(),
        size: read.file_len,
        parameters: Some(parameters),
        bytes,
        bytes_received: read.bytes_received,
    }
}

/// Per type name (dtype or ggml quant type): parameters and bytes, as read from one header.
type TypeTotalsRow = (String, u64, u64);

/// Adds up the per-file totals (dtype or quant type name, parameters, bytes) of exactly read
/// headers.
fn summarize(
    format: WeightFormat,
    files: Vec<(WeightFile, Vec<TypeTotalsRow>)>,
    hub_total: Option<u64>,
    gguf: Option<GgufHeader>,
    gguf_files: Vec<GgufChoice>,
) -> Weights {
    let mut by_dtype: BTreeMap<String, DtypeTotals> = BTreeMap::new();
    for (name, parameters, bytes) in files.iter().flat_map(|(_, totals)| totals.iter().cloned()) {
        let entry = by_dtype.entry(name).or_default();
        entry.parameters += parameters;
        entry.bytes += bytes;
    }
    Weights {
        format,
        parameters: Some(by_dtype.values().map(|t| t.parameters).sum()),
        bytes: by_dtype.values().map(|t| t.bytes).sum(),
        files: files.into_iter().map(|(file, _)| file).collect(),
        by_dtype,
        exact: true,
        hub_total,
        gguf,
        gguf_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quant_names() {
        let q = |p: &str| quant_name(p);
        assert_eq!(q("llama-2-7b-chat.Q4_K_M.gguf").as_deref(), Some("Q4_K_M"));
        assert_eq!(
            q("SmolLM2-135M-Instruct.Q4_1.gguf").as_deref(),
            Some("Q4_1")
        );
        assert_eq!(q("model-q8_0.gguf").as_deref(), Some("Q8_0"));
        assert_eq!(q("Qwen3-8B-IQ4_XS.gguf").as_deref(), Some("IQ4_XS"));
        assert_eq!(q("gemma-3-4b-it-BF16.gguf").as_deref(), Some("BF16"));
        assert_eq!(
            q("big/Model-Q4_K_M-00001-of-00003.gguf").as_deref(),
            Some("Q4_K_M")
        );
        assert_eq!(q("mmproj.gguf"), None);
    }

    #[test]
    fn shards() {
        assert_eq!(
            split_shard("model-00002-of-00003.safetensors"),
            Some(("model", "-of-00003.safetensors"))
        );
        assert_eq!(split_shard("model.safetensors"), None);
        let paths = [
            "m-Q4_K_M-00002-of-00002.gguf",
            "m-Q4_K_M-00001-of-00002.gguf",
            "m-Q8_0.gguf",
        ];
        assert_eq!(
            gguf_shards("m-Q4_K_M-00002-of-00002.gguf", &paths),
            [
                "m-Q4_K_M-00001-of-00002.gguf",
                "m-Q4_K_M-00002-of-00002.gguf"
            ]
        );
        assert_eq!(gguf_shards("m-Q8_0.gguf", &paths), ["m-Q8_0.gguf"]);
        assert_eq!(
            pickle_files(
                &[
                    "pytorch_model-00001-of-00002.bin",
                    "pytorch_model-00002-of-00002.bin",
                    "training_args.bin"
                ],
                "pytorch_model-00001-of-00002.bin"
            )
            .len(),
            2
        );
    }

    #[test]
    fn default_choices() {
        let none: Vec<GgufChoice> = Vec::new();
        assert_eq!(
            default_choice(&["model.safetensors", "pytorch_model.bin"], &none).as_deref(),
            Some("model.safetensors")
        );
        assert_eq!(
            default_choice(
                &[SAFETENSORS_INDEX, "model-00001-of-00002.safetensors"],
                &none
            )
            .as_deref(),
            Some(SAFETENSORS_INDEX)
        );
        assert_eq!(
            default_choice(&["pytorch_model.bin", "training_args.bin"], &none).as_deref(),
            Some("pytorch_model.bin")
        );
        assert_eq!(default_choice(&["README.md"], &none), None);
    }
}
