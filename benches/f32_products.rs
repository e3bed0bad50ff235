//! F32 matrix products as the safetensors models run them, on this CPU: activations `(m, k)`
//! times a fully connected weight held as PyTorch stores it, `(n, k)` multiplied through
//! candle's transposed view (what candle's `Linear` does), against the same weight kept
//! `(k, n)` row-major (`hubble::infer::models::linear::Linear`). GFLOP/s, best of several
//! runs, on rayon's pool (`RAYON_NUM_THREADS`). Not a test.
//!
//! `cargo bench --bench f32_products`

use std::time::Instant;

use candle_core::{Device, Tensor};

/// `(m, k, n)`: ViT-B/16's products (197 tokens), Whisper tiny's encoder (1500 frames),
/// a four-row and a one-row product (short prompts, decode steps).
const SHAPES: [(usize, usize, usize); 8] = [
    (197, 768, 768),
    (197, 768, 3072),
    (197, 3072, 768),
    (1500, 384, 1536),
    (1500, 1536, 384),
    (4, 1536, 576),
    (1, 768, 3072),
    (1, 3072, 768),
];

fn gflops(m: usize, k: usize, n: usize, run: impl Fn()) -> f64 {
    run();
    let reps = if m < 8 { 400 } else { 10 };
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..reps {
            run();
        }
        best = best.min(start.elapsed().as_secs_f64() / reps as f64);
    }
    2.0 * (m * k * n) as f64 / best / 1e9
}

fn main() -> candle_core::Result<()> {
    let device = Device::Cpu;
    println!("| m × k × n | weight (n, k), transposed view | weight (k, n) |");
    println!("|---|---|---|");
    for (m, k, n) in SHAPES {
        let x = Tensor::randn(0f32, 1.0, (m, k), &device)?;
        let weight = Tensor::randn(0f32, 1.0, (n, k), &device)?;
        let view = weight.t()?;
        let kept = view.contiguous()?;
        let as_candle = gflops(m, k, n, || drop(x.matmul(&view).expect("product")));
        let as_hubble = gflops(m, k, n, || drop(x.matmul(&kept).expect("product")));
        println!("| {m} × {k} × {n} | {as_candle:.1} GFLOP/s | {as_hubble:.1} GFLOP/s |");
    }
    Ok(())
}
