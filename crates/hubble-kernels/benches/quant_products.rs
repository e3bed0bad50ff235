//! Micro-benchmark of `hubble_kernels::matmul` per GGUF block type (not a test):
//!
//! ```sh
//! cargo bench -p hubble-kernels --bench quant_products [-- FILTER]
//! RAYON_NUM_THREADS=1 cargo bench -p hubble-kernels --bench quant_products
//! ```
//!
//! For each type whose block fits the shape, on SmolLM2-135M's shapes (1536 × 576, the gate and
//! up projections, 576 × 1536, the down projection, 192 × 576, a key or value projection, and
//! 49 152 × 576, the output head, 28 MB in Q8_0, streamed from memory: output rows × input
//! columns) and a 1B-class 2048 × 2048, it times one activation row (a decode step) and 64
//! rows (a prompt):
//! the best of several runs, in µs per call and GFLOP/s (two per weight and activation row).
//! Where the CPU has AVX-512 VNNI it times both products, AVX2's and VNNI's, in alternate
//! rounds (a shared machine's load drifts); `HUBBLE_KERNELS_NO_VNNI=1` makes both AVX2.

use std::time::{Duration, Instant};

use hubble_kernels::{BlockKind, matmul};

/// Output rows × input columns.
const SHAPES: [(usize, usize); 5] = [
    (1536, 576),
    (576, 1536),
    (2048, 2048),
    (192, 576),
    (49152, 576),
];

/// Activation rows: a decode step, a prompt.
const INPUTS: [usize; 2] = [1, 64];

/// Rounds of timing each variant in turn.
const ROUNDS: usize = 3;

fn kinds() -> [(&'static BlockKind, &'static [usize]); 8] {
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

/// `rows` × `cols` random blocks of `kind`, their F16 scales (at byte offsets `scales`) about
/// 0.0156.
fn random_weights(kind: &BlockKind, scales: &[usize], rows: usize, cols: usize) -> Vec<u8> {
    let mut weights = random_bytes(rows * cols / kind.values() * kind.bytes(), 7);
    for block in weights.chunks_exact_mut(kind.bytes()) {
        for &at in scales {
            // F16 0x2400 plus a little noise in the low bits.
            block[at] &= 0x0F;
            block[at + 1] = 0x24;
        }
    }
    weights
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
    // `cargo bench` passes `--bench`; the first other argument filters the types by name.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let budget = Duration::from_millis(100);
    println!(
        "threads: {}; AVX-512 VNNI: {}; best of runs, µs per call (GFLOP/s)",
        rayon::current_num_threads(),
        hubble_kernels::vnni()
    );
    println!("| type | rows × cols | activation rows | AVX2 | VNNI | VNNI speed-up |");
    println!("|---|---|---|---|---|---|");
    for (kind, scales) in kinds() {
        if filter.as_deref().is_some_and(|f| !kind.name().contains(f)) {
            continue;
        }
        for (rows, cols) in SHAPES {
            if !cols.is_multiple_of(kind.values()) {
                continue;
            }
            let weights = random_weights(kind, scales, rows, cols);
            let x: Vec<f32> = random_bytes(INPUTS[1] * cols, 3)
                .into_iter()
                .map(|v| f32::from(v) / 64. - 2.)
                .collect();
            for inputs in INPUTS {
                let x = &x[..inputs * cols];
                let variants = [kind.without_vnni(), *kind];
                let mut times = [Duration::MAX; 2];
                for _ in 0..ROUNDS {
                    for (time, variant) in times.iter_mut().zip(&variants) {
                        let t = best(budget, || {
                            std::hint::black_box(matmul(variant, &weights, rows, cols, x).unwrap());
                        });
                        *time = t.min(*time);
                    }
                }
                let shown = times.map(|time| {
                    let gflops = 2. * (rows * cols * inputs) as f64 / time.as_secs_f64() / 1e9;
                    format!("{:.1} ({gflops:.1})", time.as_secs_f64() * 1e6)
                });
                println!(
                    "| {} | {rows} × {cols} | {inputs} | {} | {} | {:.2}× |",
                    kind.name(),
                    shown[0],
                    shown[1],
                    times[0].as_secs_f64() / times[1].as_secs_f64(),
                );
            }
        }
    }
}
