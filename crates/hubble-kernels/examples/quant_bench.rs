//! Micro-benchmark of `hubble_kernels::matmul` per GGUF block type (not a test):
//!
//! ```sh
//! cargo run --release -p hubble-kernels --example quant_bench [-- FILTER]
//! RAYON_NUM_THREADS=1 cargo run --release -p hubble-kernels --example quant_bench
//! ```
//!
//! For each type and two shapes (576 × 1536 and 2048 × 8192: output rows × input columns, as a
//! SmolLM2-135M down projection and a 1B-class MLP matrix), it times one activation row (a
//! decode step) and 32 rows (a prompt), the best of several runs, and prints µs per product,
//! the weight bytes streamed per second (GB/s), and for the prompt the time per row, also
//! with the rows passed one call at a time (each weight block decoded for every row) to show
//! what the four-row path saves.

use std::time::{Duration, Instant};

use hubble_kernels::{BlockKind, matmul};

fn kinds() -> [(&'static BlockKind, &'static [usize]); 9] {
    // Each kind with the byte offsets of its F16 scales, set to sane values.
    [
        (&hubble_kernels::Q4_0, &[0]),
        (&hubble_kernels::Q4_1, &[0, 2]),
        (&hubble_kernels::Q5_0, &[0]),
        (&hubble_kernels::Q5_1, &[0, 2]),
        (&hubble_kernels::Q8_0, &[0]),
        (&hubble_kernels::Q4_K, &[0, 2]),
        (&hubble_kernels::Q5_K, &[0, 2]),
        (&hubble_kernels::Q6_K, &[208]),
        // Q4_K again last, to see the machine's drift over the run.
        (&hubble_kernels::Q4_K, &[0, 2]),
    ]
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

/// The shortest time of `f` over runs lasting at least `budget` together (at least 5 runs): on
/// a shared machine the minimum is the run least disturbed by other work.
fn best(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || start.elapsed() < budget {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.into_iter().min().unwrap()
}

fn main() {
    if !hubble_kernels::available() {
        eprintln!("this CPU lacks AVX2, FMA or F16C: nothing to time");
        return;
    }
    let filter = std::env::args().nth(1);
    let budget = Duration::from_millis(400);
    println!(
        "threads: {}; µs per product (best of runs), GB/s of weights",
        rayon::current_num_threads()
    );
    println!(
        "| type | rows × cols | weight MB | 1 row µs | GB/s | 32 rows µs | µs/row | GB/s | 32 rows one by one, µs/row |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (kind, scales) in kinds() {
        if filter.as_deref().is_some_and(|f| !kind.name().contains(f)) {
            continue;
        }
        for (rows, cols) in [(576, 1536), (2048, 8192)] {
            let blocks = rows * cols / kind.values();
            let mut weights = random_bytes(blocks * kind.bytes(), 7);
            for block in weights.chunks_exact_mut(kind.bytes()) {
                for &at in scales {
                    // 0.0156 (F16 0x2400) plus a little noise in the low bits.
                    block[at] &= 0x0F;
                    block[at + 1] = 0x24;
                }
            }
            let x: Vec<f32> = random_bytes(32 * cols, 3)
                .into_iter()
                .map(|v| f32::from(v) / 64. - 2.)
                .collect();
            let one = best(budget, || {
                std::hint::black_box(matmul(kind, &weights, rows, cols, &x[..cols]).unwrap());
            });
            let many = best(budget, || {
                std::hint::black_box(matmul(kind, &weights, rows, cols, &x).unwrap());
            });
            let singly = best(budget, || {
                for input in x.chunks_exact(cols) {
                    std::hint::black_box(matmul(kind, &weights, rows, cols, input).unwrap());
                }
            });
            let mb = weights.len() as f64 / 1e6;
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            println!(
                "| {} | {rows} × {cols} | {mb:.2} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} |",
                kind.name(),
                us(one),
                mb / 1e3 / one.as_secs_f64(),
                us(many),
                us(many) / 32.,
                32. * mb / 1e3 / many.as_secs_f64(),
                us(singly) / 32.,
            );
        }
    }
}
