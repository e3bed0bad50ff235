//! `hubble fit`: will a model fit this machine? Exact weights from file headers (HTTP Range),
//! KV cache from its config, a verdict per device.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::format::{Table, bytes, params};
use super::{exit, report};
use crate::fit::FitError;
use crate::fit::estimate::{Estimate, EstimateOptions, KvType, estimate};
use crate::fit::read::{ModelFit, read_fit};
use crate::fit::shape::ModelShape;
use crate::fit::system::SystemInfo;
use crate::fit::verdict::{DeviceVerdict, Verdict, best, verdicts};
use crate::fit::weights::Weights;
use crate::hub::{HubClient, HubError, RepoId};

/// Arguments of `hubble fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Repository id, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.
    pub repo: RepoId,
    /// Branch, tag or commit (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// The weight file to size (a .gguf quant, a .safetensors file); default: the repo's main
    /// weights (safetensors index, model.safetensors, a Q4_K_M GGUF, pickles).
    #[arg(long)]
    pub file: Option<String>,
    /// Estimate for the float weights converted to this dtype or quant (bf16, f16, q8_0,
    /// q4_k_m, …); default: as stored.
    #[arg(long)]
    pub dtype: Option<String>,
    /// Context length in tokens (default: the model's, at most 4096).
    #[arg(long)]
    pub context: Option<u64>,
    /// The picture a diffusion pipeline is sized for, WIDTHxHEIGHT (default: the model's own).
    #[arg(long, value_name = "WxH", value_parser = picture_size)]
    pub size: Option<(u64, u64)>,
    /// KV-cache type: f16 (default), f32 or q8_0.
    #[arg(long, default_value = "f16", value_parser = ["f16", "f32", "q8_0"])]
    pub kv_type: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn picture_size(text: &str) -> Result<(u64, u64), String> {
    crate::format::parse_picture_size(text)
        .ok_or_else(|| format!("{text:?} is not a picture size: use WIDTHxHEIGHT, e.g. 1024x768"))
}

/// `hubble fit --json` output.
#[derive(Debug, Serialize)]
pub struct FitOutput {
    /// Repository id.
    pub repo: String,
    /// The commit read.
    pub revision: Option<String>,
    /// The weights, read from headers.
    pub weights: Weights,
    /// Whether our count equals the Hub's `safetensors.total` / `gguf.total` (null: no total).
    pub matches_hub: Option<bool>,
    /// The model's shape.
    pub shape: ModelShape,
    /// The estimate.
    pub estimate: Estimate,
    /// The probed system.
    pub system: SystemInfo,
    /// One verdict per GPU, then the CPU.
    pub verdicts: Vec<DeviceVerdict>,
    /// The best verdict.
    pub best: Verdict,
}

/// Runs `hubble fit` (on the runtime `main` built) and returns the exit status.
pub async fn run(config: crate::config::HubConfig, args: FitArgs) -> ExitCode {
    let json = args.json;
    match fit(config, args).await {
        Ok(output) => {
            if json {
                return match super::print_json(&output) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => report(&e, true),
                };
            }
            print!("{}", describe(&output));
            ExitCode::SUCCESS
        }
        Err(FitError::Hub(e)) => report(&e, json),
        Err(FitError::NoWeights(message)) => {
            print_error("entry_not_found", &message, json);
            ExitCode::from(exit::NOT_FOUND)
        }
        Err(e @ FitError::Format { .. }) => {
            print_error("invalid_response", &e.to_string(), json);
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn print_error(kind: &str, message: &str, json: bool) {
    if json {
        eprintln!(
            "{}",
            serde_json::json!({ "error": { "kind": kind, "message": message } })
        );
    } else {
        eprintln!("error: {message}");
    }
}

async fn fit(config: crate::config::HubConfig, args: FitArgs) -> Result<FitOutput, FitError> {
    let kv_type = KvType::parse(&args.kv_type).unwrap_or(KvType::F16);
    let options = EstimateOptions {
        context: args.context,
        dtype: args.dtype.clone(),
        kv_type,
        picture: args.size,
    };
    if let Some(dtype) = &args.dtype
        && crate::fit::dtype::target_bits(dtype).is_none()
    {
        return Err(HubError::InvalidInput(format!(
            "unknown --dtype {dtype:?}: use {}",
            crate::fit::dtype::target_list()
        ))
        .into());
    }
    // The probe (Vulkan instance creation) is blocking: run it beside the requests.
    let probe = tokio::task::spawn_blocking(SystemInfo::probe);
    let client = HubClient::new(config)?;
    let model = client
        .model_info(&args.repo, args.revision.as_deref())
        .await?;
    let ModelFit { weights, shape } =
        read_fit(&client, &args.repo, &model, args.file.as_deref()).await?;
    let estimate = estimate(&weights, &shape, &options)
        .map_err(|e| FitError::Hub(HubError::InvalidInput(e.0)))?;
    let system = probe
        .await
        .unwrap_or_else(|_| SystemInfo::unknown("the system probe failed"));
    let verdicts = verdicts(&estimate, &system);
    Ok(FitOutput {
        repo: args.repo.to_string(),
        revision: model.sha.clone(),
        matches_hub: weights.matches_hub(),
        best: best(&verdicts),
        weights,
        shape,
        estimate,
        system,
        verdicts,
    })
}

fn describe(output: &FitOutput) -> String {
    let w = &output.weights;
    let e = &output.estimate;
    let mut out = format!("{}\n", output.repo);
    let params_text = match w.parameters {
        Some(n) => format!("{} parameters ({n})", params(n)),
        None => "parameters unknown".into(),
    };
    let hub = match (output.matches_hub, w.hub_total) {
        (Some(true), _) => ", equal to the Hub's count".to_string(),
        (Some(false), Some(total)) => format!(", the Hub says {total}"),
        _ => String::new(),
    };
    out.push_str(&format!(
        "  weights     {} in {} file(s), {params_text}{hub}{}\n",
        bytes(w.bytes),
        w.files.len(),
        if w.exact {
            ""
        } else {
            " (approximate: file sizes)"
        }
    ));
    let per_dtype: Vec<String> = w
        .by_dtype
        .iter()
        .map(|(d, t)| format!("{d} {} ({})", params(t.parameters), bytes(t.bytes)))
        .collect();
    if !per_dtype.is_empty() {
        out.push_str(&format!("  dtypes      {}\n", per_dtype.join(", ")));
    }
    if let Some(arch) = &output.shape.architecture {
        out.push_str(&format!(
            "  shape       {arch}, {} layers, trained context {}\n",
            output.shape.layers.map_or("?".into(), |l| l.to_string()),
            output
                .shape
                .max_context
                .map_or("?".into(), |c| c.to_string())
        ));
    }
    out.push_str(&format!(
        "  context     {} tokens\n  needs       {}\n\n",
        e.context,
        bytes(e.total_bytes)
    ));
    for line in &e.formula {
        out.push_str(&format!("  {line}\n"));
    }
    for note in &e.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out.push('\n');
    let mut table = Table::new(&["DEVICE", "VERDICT", "WHY"]);
    for v in &output.verdicts {
        table.row(vec![
            v.device.clone(),
            v.verdict.label(),
            v.explanation.clone(),
        ]);
    }
    out.push_str(&table.render());
    if w.gguf_files.len() > 1 {
        out.push_str("\nother GGUF files (pick one with --file):\n");
        for g in &w.gguf_files {
            out.push_str(&format!(
                "  {}  {}\n",
                g.path,
                g.size.map(bytes).unwrap_or_else(|| "?".into())
            ));
        }
    }
    out
}
