//! Prefill and decode speed of one GGUF file on the CPU and on a wgpu adapter, side by side in
//! one run, and decode as a fraction of the adapter's memory-bandwidth limit (weight bytes read
//! per token ÷ a measured copy bandwidth). Not a test: `scripts/bench-gpu.sh` runs it.
//!
//! `cargo bench --bench gpu_decode -- FILE [--device wgpu[:N|:NAME]] [--prompt N] [--decode N]`

use std::sync::Arc;
use std::time::Instant;

use candle_core::quantized::gguf_file::Content;
use hubble::infer::models::causal::CausalModel;
use hubble::infer::models::gpu_llama::GpuLlama;
use hubble_gpu::{Gpu, Selector};

struct Args {
    file: String,
    device: Selector,
    prompt: usize,
    decode: usize,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut args = Args {
        file: String::new(),
        device: Selector::Auto,
        prompt: 64,
        decode: 32,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--device" => {
                let v = value()?;
                args.device =
                    Selector::parse(v.strip_prefix("wgpu").unwrap_or(&v).trim_start_matches(':'));
            }
            "--prompt" => args.prompt = value()?.parse().map_err(|e| format!("--prompt: {e}"))?,
            "--decode" => args.decode = value()?.parse().map_err(|e| format!("--decode: {e}"))?,
            file => args.file = file.to_string(),
        }
    }
    if args.file.is_empty() {
        return Err(
            "usage: gpu_decode FILE [--device wgpu[:N|:NAME]] [--prompt N] [--decode N]".into(),
        );
    }
    Ok(args)
}

/// Bytes of weights a decode step reads: every tensor but the embedding table (of which it
/// gathers one row), which it reads whole when it is also the output head.
fn weight_bytes_per_token(content: &Content) -> u64 {
    let tied = !content.tensor_infos.contains_key("output.weight");
    content
        .tensor_infos
        .iter()
        .filter(|(name, _)| tied || name.as_str() != "token_embd.weight")
        .map(|(_, info)| {
            (info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size())
                as u64
        })
        .sum()
}

fn prompt(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| 100 + i * 7 % 500).collect()
}

fn argmax(logits: &[f32]) -> u32 {
    (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap_or(0) as u32
}

/// (prefill tok/s, decode tok/s) of the candle path on `device` (the CPU, or CUDA when built).
fn time_candle(args: &Args, device: &candle_core::Device) -> Result<(f64, f64), String> {
    let mut file = std::fs::File::open(&args.file).map_err(|e| e.to_string())?;
    let content = Content::read(&mut file).map_err(|e| e.to_string())?;
    let mut model =
        CausalModel::from_gguf(content, &mut file, device, None).map_err(|e| e.to_string())?;
    model
        .clear_kv_cache(args.prompt + args.decode)
        .map_err(|e| e.to_string())?;
    let tokens = prompt(args.prompt);
    let start = Instant::now();
    let logits = model.forward(&tokens, 0).map_err(|e| e.to_string())?;
    let prefill = args.prompt as f64 / start.elapsed().as_secs_f64();
    let mut next = argmax(&logits.to_vec1::<f32>().map_err(|e| e.to_string())?);
    let start = Instant::now();
    for i in 0..args.decode {
        let logits = model
            .forward(&[next], args.prompt + i)
            .map_err(|e| e.to_string())?;
        next = argmax(&logits.to_vec1::<f32>().map_err(|e| e.to_string())?);
    }
    Ok((prefill, args.decode as f64 / start.elapsed().as_secs_f64()))
}

fn time_gpu(args: &Args, gpu: Arc<Gpu>) -> Result<(f64, f64), String> {
    let mut file = std::fs::File::open(&args.file).map_err(|e| e.to_string())?;
    let content = Content::read(&mut file).map_err(|e| e.to_string())?;
    let arch = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    let mut model =
        GpuLlama::from_gguf(&content, &arch, &mut file, gpu).map_err(|e| e.to_string())?;
    model
        .reserve_kv_cache(args.prompt + args.decode)
        .map_err(|e| e.to_string())?;
    // One warm-up step compiles the pipelines.
    model.next_greedy(&[1], 0).map_err(|e| e.to_string())?;
    let tokens = prompt(args.prompt);
    let start = Instant::now();
    let mut next = model.next_greedy(&tokens, 0).map_err(|e| e.to_string())?;
    let prefill = args.prompt as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..args.decode {
        next = model
            .next_greedy(&[next], args.prompt + i)
            .map_err(|e| e.to_string())?;
    }
    Ok((prefill, args.decode as f64 / start.elapsed().as_secs_f64()))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = args()?;
    let mut file = std::fs::File::open(&args.file).map_err(|e| format!("{}: {e}", args.file))?;
    let content = Content::read(&mut file).map_err(|e| e.to_string())?;
    let bytes = weight_bytes_per_token(&content);
    let gpu = Arc::new(Gpu::open(&args.device).map_err(|e| e.to_string())?);
    let adapter = gpu.adapter().clone();
    let bandwidth = gpu.copy_bandwidth(256 << 20).map_err(|e| e.to_string())?;
    let (cpu_prefill, cpu_decode) = time_candle(&args, &candle_core::Device::Cpu)?;
    // The CUDA build's path on the same file, where it is built and a GPU answers.
    let cuda = match candle_core::Device::new_cuda(0) {
        Ok(device) if candle_core::utils::cuda_is_available() => Some(time_candle(&args, &device)?),
        _ => None,
    };
    let (gpu_prefill, gpu_decode) = time_gpu(&args, gpu)?;
    let fraction = gpu_decode * bytes as f64 / bandwidth;
    println!("file       {}", args.file);
    println!(
        "adapter    {} ({}, {})",
        adapter.name, adapter.backend, adapter.kind
    );
    println!(
        "weights    {:.1} MB read per decoded token",
        bytes as f64 / 1e6
    );
    println!("bandwidth  {:.1} GB/s (buffer copy)", bandwidth / 1e9);
    println!();
    println!(
        "| device | prefill tok/s ({} tokens) | decode tok/s ({} tokens) |",
        args.prompt, args.decode
    );
    println!("|---|---:|---:|");
    println!("| cpu | {cpu_prefill:.1} | {cpu_decode:.1} |");
    if let Some((prefill, decode)) = cuda {
        println!("| cuda | {prefill:.1} | {decode:.1} |");
    }
    println!("| wgpu | {gpu_prefill:.1} | {gpu_decode:.1} |");
    println!();
    println!(
        "wgpu ÷ cpu: prefill {:.2}×, decode {:.2}×; decode at {:.1} % of the bandwidth limit",
        gpu_prefill / cpu_prefill,
        gpu_decode / cpu_decode,
        100.0 * fraction
    );
    Ok(())
}
