//! Every kernel against a CPU reference on random data, on a real wgpu adapter: lavapipe
//! (Mesa's software Vulkan) in CI, or the adapter `HUBBLE_TEST_ADAPTER` names. No adapter is a
//! failure, not a skip. F32 paths are held to 1e-5 relative; quantised products to 1e-5 of
//! the product of their dequantised values (the same numbers, summed in another order); the
//! F16 cache to the rounding of its values.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use hubble_gpu::ops::{self, Attention, Gate, KvCache, Rotation, Rows};
use hubble_gpu::{Buffer, Gpu, KvType, Pass, Selector, WeightType};

fn gpu() -> Gpu {
    let name = std::env::var("HUBBLE_TEST_ADAPTER").unwrap_or_else(|_| "llvmpipe".into());
    Gpu::open(&Selector::parse(&name)).unwrap_or_else(|e| {
        panic!("no wgpu adapter {name:?} (install mesa-vulkan-drivers for lavapipe): {e}")
    })
}

/// Deterministic values in (-scale/2, scale/2).
fn random(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((state >> 8) as f32 / (1 << 24) as f32 - 0.5) * scale
        })
        .collect()
}

fn assert_close(got: &[f32], want: &[f32], tolerance: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * scale,
            "{what}[{i}]: {g} vs {w} (scale {scale})"
        );
    }
}

/// A `rows × cols` matrix quantised to `dtype` by candle: its bytes and dequantised values.
fn quantised(dtype: GgmlDType, rows: usize, cols: usize, seed: u32) -> (Vec<u8>, Vec<f32>) {
    let values =
        Tensor::from_vec(random(rows * cols, seed, 2.0), (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&values, dtype).unwrap();
    let dequantised = q
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    (q.data().unwrap().into_owned(), dequantised)
}

fn bf16_bytes(values: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let halves: Vec<half::bf16> = values.iter().map(|v| half::bf16::from_f32(*v)).collect();
    let bytes = halves.iter().flat_map(|h| h.to_le_bytes()).collect();
    (bytes, halves.iter().map(|h| h.to_f32()).collect())
}

const TYPES: [(WeightType, Option<GgmlDType>); 11] = [
    (WeightType::F32, Some(GgmlDType::F32)),
    (WeightType::F16, Some(GgmlDType::F16)),
    (WeightType::Bf16, None),
    (WeightType::Q4_0, Some(GgmlDType::Q4_0)),
    (WeightType::Q4_1, Some(GgmlDType::Q4_1)),
    (WeightType::Q5_0, Some(GgmlDType::Q5_0)),
    (WeightType::Q5_1, Some(GgmlDType::Q5_1)),
    (WeightType::Q8_0, Some(GgmlDType::Q8_0)),
    (WeightType::Q4K, Some(GgmlDType::Q4K)),
    (WeightType::Q5K, Some(GgmlDType::Q5K)),
    (WeightType::Q6K, Some(GgmlDType::Q6K)),
];

fn matrix(
    ty: WeightType,
    dtype: Option<GgmlDType>,
    rows: usize,
    cols: usize,
    seed: u32,
) -> (Vec<u8>, Vec<f32>) {
    match dtype {
        Some(dtype) => quantised(dtype, rows, cols, seed),
        None => {
            assert_eq!(ty, WeightType::Bf16);
            bf16_bytes(&random(rows * cols, seed, 2.0))
        }
    }
}

fn reference_matmul(w: &[f32], x: &[f32], rows: usize, cols: usize, tokens: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * tokens];
    for t in 0..tokens {
        for r in 0..rows {
            let dot: f64 = (0..cols)
                .map(|c| f64::from(w[r * cols + c]) * f64::from(x[t * cols + c]))
                .sum();
            out[t * rows + r] = dot as f32;
        }
    }
    out
}

#[test]
fn products_of_every_weight_type_match_their_dequantised_values() {
    // With subgroup sums where the adapter has them (lavapipe does), then without.
    let mut gpu = gpu();
    let subgroups = gpu.subgroups();
    check_products(&gpu);
    gpu.disable_subgroups();
    check_products(&gpu);
    eprintln!("products checked with subgroups {subgroups} and without");
}

fn check_products(gpu: &Gpu) {
    // Widths with a tail (fewer quads than threads, blocks that don't fill the stride).
    for (ty, dtype) in TYPES {
        let widths: &[usize] = if ty.block_values() == 256 {
            &[256, 768]
        } else {
            &[32, 96, 576]
        };
        for (i, &cols) in widths.iter().enumerate() {
            // One token (matrix–vector), 21 (tiles with edges), 3 (below the tiles).
            let (rows, tokens) = (37, [1, 21, 3][i]);
            let (bytes, dequantised) = matrix(ty, dtype, rows, cols, 7 + i as u32);
            let w = gpu.upload_weight(ty, rows, cols, &bytes, "w").unwrap();
            let x = random(tokens * cols, 99 + i as u32, 1.0);
            let x_buffer = gpu.upload_f32(&x, "x").unwrap();
            let out = gpu.buffer((rows * tokens * 4) as u64, "out").unwrap();
            let mut pass = Pass::new(gpu);
            ops::matmul(
                &mut pass,
                &w,
                Rows::new(&x_buffer, cols),
                Rows::new(&out, rows),
                tokens,
            )
            .unwrap();
            let got = pass.submit_and_read_f32(&out, 0, rows * tokens).unwrap();
            let want = reference_matmul(&dequantised, &x, rows, cols, tokens);
            assert_close(
                &got,
                &want,
                1e-5,
                &format!("{ty:?} {rows}×{cols}, {tokens} tokens"),
            );
        }
    }
}

#[test]
fn embedding_rows_dequantise_exactly() {
    let gpu = gpu();
    for (ty, dtype) in TYPES {
        let (rows, cols) = (19, if ty.block_values() == 256 { 512 } else { 96 });
        let (bytes, dequantised) = matrix(ty, dtype, rows, cols, 3);
        let table = gpu.upload_weight(ty, rows, cols, &bytes, "table").unwrap();
        let ids = [4u32, 0, 18, 4];
        let ids_buffer = gpu.upload(bytemuck::cast_slice(&ids), "ids").unwrap();
        let out = gpu.buffer((ids.len() * cols * 4) as u64, "rows").unwrap();
        let mut pass = Pass::new(&gpu);
        ops::get_rows(&mut pass, &table, &ids_buffer, &out, ids.len()).unwrap();
        let got = pass.submit_and_read_f32(&out, 0, ids.len() * cols).unwrap();
        let want: Vec<f32> = ids
            .iter()
            .flat_map(|&id| dequantised[id as usize * cols..(id as usize + 1) * cols].to_vec())
            .collect();
        assert_close(&got, &want, 1e-6, &format!("{ty:?} rows"));
    }
}

#[test]
fn matrices_over_the_binding_limit_are_split_by_rows() {
    let mut gpu = gpu();
    gpu.limit_binding(10 * 20 * 3); // Three Q4_1 rows of 320 per chunk.
    let (rows, cols) = (10, 320);
    let (bytes, dequantised) = quantised(GgmlDType::Q4_1, rows, cols, 5);
    let w = gpu
        .upload_weight(WeightType::Q4_1, rows, cols, &bytes, "split")
        .unwrap();
    assert_eq!(w.chunk_count(), 4);
    let x = random(2 * cols, 8, 1.0);
    let x_buffer = gpu.upload_f32(&x, "x").unwrap();
    let out = gpu.buffer((2 * rows * 4) as u64, "out").unwrap();
    let ids = gpu.upload(bytemuck::cast_slice(&[9u32, 2]), "ids").unwrap();
    let rows_out = gpu.buffer((2 * cols * 4) as u64, "rows").unwrap();
    let mut pass = Pass::new(&gpu);
    ops::matmul(
        &mut pass,
        &w,
        Rows::new(&x_buffer, cols),
        Rows::new(&out, rows),
        2,
    )
    .unwrap();
    ops::get_rows(&mut pass, &w, &ids, &rows_out, 2).unwrap();
    pass.submit().unwrap();
    let got = gpu.read_f32(&out, 0, 2 * rows).unwrap();
    assert_close(
        &got,
        &reference_matmul(&dequantised, &x, rows, cols, 2),
        1e-5,
        "split product",
    );
    let got_rows = gpu.read_f32(&rows_out, 0, 2 * cols).unwrap();
    let want_rows = [
        &dequantised[9 * cols..10 * cols],
        &dequantised[2 * cols..3 * cols],
    ]
    .concat();
    assert_close(&got_rows, &want_rows, 1e-6, "split rows");
}

#[test]
fn rms_norm_matches_the_cpu() {
    let gpu = gpu();
    let (rows, cols, stride, offset) = (5, 200, 230, 7);
    let x = random(offset + rows * stride, 1, 4.0);
    let weight = random(cols, 2, 2.0);
    let x_buffer = gpu.upload_f32(&x, "x").unwrap();
    let w_buffer = gpu.upload_f32(&weight, "w").unwrap();
    let norm = |v: &[f32], w: &[f32]| -> Vec<f32> {
        let inv = 1.0 / (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32 + 1e-5).sqrt();
        v.iter().zip(w).map(|(x, w)| x * inv * w).collect()
    };
    let input = Rows {
        buffer: &x_buffer,
        offset,
        stride,
    };
    // Whole rows, into a dense output.
    let out = gpu.buffer((rows * cols * 4) as u64, "out").unwrap();
    let mut pass = Pass::new(&gpu);
    let dense = Rows::new(&out, cols);
    ops::rms_norm(&mut pass, input, &w_buffer, dense, rows, 1, cols, 1e-5).unwrap();
    let got = pass.submit_and_read_f32(&out, 0, rows * cols).unwrap();
    let want: Vec<f32> = (0..rows)
        .flat_map(|r| norm(&x[offset + r * stride..][..cols], &weight))
        .collect();
    assert_close(&got, &want, 1e-5, "rms norm");
    // Four groups of 50 per row (per-head norms), written at the input's layout.
    let out = gpu
        .buffer((offset + rows * stride) as u64 * 4, "heads")
        .unwrap();
    let mut pass = Pass::new(&gpu);
    let heads = Rows {
        buffer: &out,
        offset,
        stride,
    };
    ops::rms_norm(&mut pass, input, &w_buffer, heads, rows, 4, 50, 1e-5).unwrap();
    let got = pass
        .submit_and_read_f32(&out, 0, offset + rows * stride)
        .unwrap();
    for r in 0..rows {
        for g in 0..4 {
            let at = offset + r * stride + g * 50;
            let want = norm(&x[at..at + 50], &weight[..50]);
            assert_close(
                &got[at..at + 50],
                &want,
                1e-5,
                &format!("head norm {r}.{g}"),
            );
        }
    }
}

#[test]
fn rotary_turns_pairs_and_halves_of_the_leading_dimensions() {
    let gpu = gpu();
    let (heads, head_dim, tokens) = (3, 16, 4);
    for (neox, rope_dim) in [(false, 16), (true, 16), (true, 8), (false, 8)] {
        let pairs = rope_dim / 2;
        let width = heads * head_dim;
        let x = random(tokens * width + 5, 11, 2.0);
        let angles: Vec<f32> = (0..tokens * pairs)
            .flat_map(|i| {
                let angle = (i as f32 * 0.37).sin() * 3.0;
                [angle.cos(), angle.sin()]
            })
            .collect();
        let x_buffer = gpu.upload_f32(&x, "x").unwrap();
        let angle_buffer = gpu.upload_f32(&angles, "angles").unwrap();
        let mut pass = Pass::new(&gpu);
        let rotation = Rotation {
            heads,
            head_dim,
            rope_dim,
            neox,
        };
        let rows = Rows {
            buffer: &x_buffer,
            offset: 5,
            stride: width,
        };
        ops::rope(&mut pass, rows, &angle_buffer, rotation, tokens).unwrap();
        let got = pass.submit_and_read_f32(&x_buffer, 0, x.len()).unwrap();
        let mut want = x.clone();
        for t in 0..tokens {
            for h in 0..heads {
                let base = 5 + t * width + h * head_dim;
                for i in 0..pairs {
                    let (a, b) = if neox {
                        (base + i, base + i + pairs)
                    } else {
                        (base + 2 * i, base + 2 * i + 1)
                    };
                    let (cos, sin) = (angles[2 * (t * pairs + i)], angles[2 * (t * pairs + i) + 1]);
                    want[a] = x[a] * cos - x[b] * sin;
                    want[b] = x[a] * sin + x[b] * cos;
                }
            }
        }
        assert_close(
            &got,
            &want,
            1e-6,
            &format!("rope neox={neox} dim {rope_dim}"),
        );
    }
}

/// Attention of `q` (tokens × heads × head_dim) over keys/values (ctx × kv_heads × head_dim).
fn reference_attention(q: &[f32], k: &[f32], v: &[f32], a: Attention) -> Vec<f32> {
    let (hd, group) = (a.head_dim, a.heads / a.kv_heads);
    let mut out = vec![0f32; a.tokens * a.heads * hd];
    for t in 0..a.tokens {
        let at = a.pos0 + t;
        for h in 0..a.heads {
            let kh = h / group;
            let last = if a.causal { at } else { a.pos0 + a.tokens - 1 };
            let visible: Vec<usize> = (0..=last)
                .filter(|&j| a.window == 0 || at < j + a.window)
                .collect();
            let scores: Vec<f32> = visible
                .iter()
                .map(|&j| {
                    let qrow = &q[(t * a.heads + h) * hd..][..hd];
                    let krow = &k[(j * a.kv_heads + kh) * hd..][..hd];
                    let score = qrow.iter().zip(krow).map(|(x, y)| x * y).sum::<f32>() * a.scale;
                    if a.softcap > 0.0 {
                        (score / a.softcap).tanh() * a.softcap
                    } else {
                        score
                    }
                })
                .collect();
            let top = scores.iter().fold(f32::MIN, |m, s| m.max(*s));
            let exps: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
            let sum: f32 = exps.iter().sum();
            for (&j, e) in visible.iter().zip(&exps) {
                for d in 0..hd {
                    out[(t * a.heads + h) * hd + d] += e / sum * v[(j * a.kv_heads + kh) * hd + d];
                }
            }
        }
    }
    out
}

fn round_f16(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|v| half::f16::from_f32(*v).to_f32())
        .collect()
}

#[test]
fn attention_over_the_cache_matches_the_cpu() {
    let gpu = gpu();
    let (heads, kv_heads, head_dim) = (4, 2, 16);
    let kv_dim = kv_heads * head_dim;
    let cases = [
        (KvType::F32, 0, true, 0.0),
        (KvType::F32, 3, true, 0.0),
        (KvType::F16, 0, true, 0.0),
        (KvType::F32, 0, false, 0.0),
        (KvType::F32, 0, true, 0.5),
    ];
    for (ty, window, causal, softcap) in cases {
        let cache = KvCache::new(&gpu, kv_dim, 16, ty).unwrap();
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        // A prompt of 5, then two single steps: the cache fills across passes.
        let mut pos0 = 0;
        for (step, tokens) in [5usize, 1, 1].into_iter().enumerate() {
            let seed = 40 + step as u32;
            let q = random(tokens * heads * head_dim, seed, 2.0);
            let k = random(tokens * kv_dim, seed + 100, 2.0);
            let v = random(tokens * kv_dim, seed + 200, 2.0);
            let (kept_k, kept_v) = match ty {
                KvType::F32 => (k.clone(), v.clone()),
                KvType::F16 => (round_f16(&k), round_f16(&v)),
            };
            keys.extend(kept_k);
            values.extend(kept_v);
            let a = Attention {
                heads,
                kv_heads,
                head_dim,
                pos0,
                tokens,
                keys: pos0 + tokens,
                window,
                scale: 0.25,
                causal,
                softcap,
            };
            let [qb, kb, vb] = [&q, &k, &v].map(|data| gpu.upload_f32(data, "qkv").unwrap());
            let scores = gpu.buffer(a.scratch_len() as u64 * 4, "scores").unwrap();
            let out = gpu
                .buffer((tokens * heads * head_dim * 4) as u64, "out")
                .unwrap();
            let mut pass = Pass::new(&gpu);
            ops::kv_store(
                &mut pass,
                &cache,
                Rows::new(&kb, kv_dim),
                Rows::new(&vb, kv_dim),
                pos0,
                tokens,
            )
            .unwrap();
            ops::attention(
                &mut pass,
                Rows::new(&qb, heads * head_dim),
                &cache,
                &scores,
                &out,
                a,
            )
            .unwrap();
            let got = pass
                .submit_and_read_f32(&out, 0, tokens * heads * head_dim)
                .unwrap();
            let want = reference_attention(&q, &keys, &values, a);
            let tolerance = if ty == KvType::F32 { 1e-5 } else { 1e-5 * 4.0 };
            assert_close(
                &got,
                &want,
                tolerance,
                &format!("{ty:?} window {window} causal {causal} cap {softcap} at {pos0}"),
            );
            pos0 += tokens;
        }
    }
}

fn run_unary(gpu: &Gpu, record: impl FnOnce(&mut Pass<'_>) -> (Buffer, usize)) -> Vec<f32> {
    let mut pass = Pass::new(gpu);
    let (buffer, len) = record(&mut pass);
    pass.submit_and_read_f32(&buffer, 0, len).unwrap()
}

#[test]
fn gates_residuals_biases_and_argmax_match_the_cpu() {
    let gpu = gpu();
    let (n, tokens) = (70, 3);
    // Gate and up in one buffer, as a fused projection leaves them.
    let both = random(tokens * 2 * n, 5, 6.0);
    let fused = gpu.upload_f32(&both, "gate_up").unwrap();
    let got = run_unary(&gpu, |pass| {
        let out = gpu.buffer((tokens * n * 4) as u64, "out").unwrap();
        let rows = Rows::new(&fused, 2 * n);
        ops::gated(pass, rows, rows.shifted(n), &out, Gate::Silu, n, tokens).unwrap();
        (out, tokens * n)
    });
    let want: Vec<f32> = (0..tokens)
        .flat_map(|t| (0..n).map(move |i| (t, i)))
        .map(|(t, i)| {
            let g = both[t * 2 * n + i];
            g / (1.0 + (-g).exp()) * both[t * 2 * n + n + i]
        })
        .collect();
    assert_close(&got, &want, 1e-5, "silu gate");
    let got = run_unary(&gpu, |pass| {
        let out = gpu.buffer((tokens * n * 4) as u64, "out").unwrap();
        let rows = Rows::new(&fused, 2 * n);
        ops::gated(pass, rows, rows.shifted(n), &out, Gate::GeluTanh, n, tokens).unwrap();
        ops::scale(pass, &out, tokens * n, 8.0).unwrap();
        (out, tokens * n)
    });
    let want: Vec<f32> = (0..tokens)
        .flat_map(|t| (0..n).map(move |i| (t, i)))
        .map(|(t, i)| {
            let g = both[t * 2 * n + i];
            let inner = 0.797_884_6 * (g + 0.044715 * g * g * g);
            0.5 * g * (1.0 + inner.tanh()) * both[t * 2 * n + n + i] * 8.0
        })
        .collect();
    assert_close(&got, &want, 1e-5, "gelu-tanh gate, scaled");

    let a = random(tokens * n, 6, 2.0);
    let bias = random(n, 7, 2.0);
    let got = run_unary(&gpu, |pass| {
        let a_buffer = gpu.upload_f32(&a, "a").unwrap();
        let bias_buffer = gpu.upload_f32(&bias, "bias").unwrap();
        let bias_rows = Rows {
            buffer: &bias_buffer,
            offset: 0,
            stride: 0,
        };
        ops::add(pass, Rows::new(&a_buffer, n), bias_rows, n, tokens).unwrap();
        (a_buffer, tokens * n)
    });
    let want: Vec<f32> = a.iter().enumerate().map(|(i, v)| v + bias[i % n]).collect();
    assert_close(&got, &want, 1e-6, "bias add");

    let mut logits = random(50_000, 8, 10.0);
    logits[31_337] = 9.0;
    logits[40_000] = 9.0; // A tie: the lower index wins.
    let x = gpu
        .upload_f32(&[vec![100.0; 3], logits].concat(), "logits")
        .unwrap();
    let out = gpu.buffer(4, "argmax").unwrap();
    let mut pass = Pass::new(&gpu);
    ops::argmax(&mut pass, &x, 3, 50_000, &out).unwrap();
    assert_eq!(pass.submit_and_read_u32(&out, 0, 1).unwrap(), [31_337]);
}

#[test]
fn bad_shapes_are_errors_not_crashes() {
    let gpu = gpu();
    let w = gpu
        .upload_weight(WeightType::F32, 2, 4, &[0u8; 32], "w")
        .unwrap();
    assert!(
        gpu.upload_weight(WeightType::Q4_0, 2, 32, &[0u8; 20], "short")
            .is_err()
    );
    let small = gpu.buffer(8, "small").unwrap();
    let mut pass = Pass::new(&gpu);
    let error =
        ops::matmul(&mut pass, &w, Rows::new(&small, 4), Rows::new(&small, 2), 1).unwrap_err();
    assert!(error.to_string().contains("matmul input"), "{error}");
    assert!(pass.is_empty());
}

#[test]
fn layer_norm_and_gelu_match_the_cpu() {
    let gpu = gpu();
    let (rows, cols) = (3, 130);
    let x = random(rows * cols, 21, 6.0);
    let weight = random(cols, 22, 2.0);
    let bias = random(cols, 23, 2.0);
    let [xb, wb, bb] = [&x, &weight, &bias].map(|v| gpu.upload_f32(v, "ln").unwrap());
    let out = gpu.buffer((rows * cols * 4) as u64, "out").unwrap();
    let mut pass = Pass::new(&gpu);
    ops::layer_norm(
        &mut pass,
        Rows::new(&xb, cols),
        &wb,
        &bb,
        &out,
        rows,
        cols,
        1e-12,
    )
    .unwrap();
    ops::gelu(&mut pass, &xb, rows * cols).unwrap();
    pass.submit().unwrap();
    let mut want = Vec::new();
    for row in x.chunks(cols) {
        let mean = row.iter().sum::<f32>() / cols as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
        let inv = 1.0 / (var + 1e-12).sqrt();
        want.extend((0..cols).map(|c| (row[c] - mean) * inv * weight[c] + bias[c]));
    }
    let got = gpu.read_f32(&out, 0, rows * cols).unwrap();
    assert_close(&got, &want, 1e-5, "layer norm");
    // erf's reference in f64 (libm-free: the series converges fast for these magnitudes).
    let erf = |v: f64| -> f64 {
        let mut sum = 0.0;
        let mut term = v;
        for n in 0..200 {
            sum += term / (2 * n + 1) as f64;
            term *= -v * v / (n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    };
    let want: Vec<f32> = x
        .iter()
        .map(|&v| (0.5 * f64::from(v) * (1.0 + erf(f64::from(v) / 2f64.sqrt()))) as f32)
        .collect();
    let got = gpu.read_f32(&xb, 0, rows * cols).unwrap();
    assert_close(&got, &want, 1e-5, "gelu");
}

#[test]
fn exhausted_memory_and_a_lost_device_are_errors_that_say_what_to_do() {
    let gpu = gpu();
    let error = gpu.buffer(u64::MAX / 2, "huge").unwrap_err().to_string();
    assert!(
        error.contains("out of GPU memory") && error.contains("smaller"),
        "{error}"
    );
    let x = gpu.upload_f32(&[1.0; 64], "x").unwrap();
    gpu.lose();
    let mut pass = Pass::new(&gpu);
    let out = gpu.buffer(4, "out");
    let error = match out {
        Err(e) => e.to_string(),
        Ok(out) => {
            let recorded = ops::argmax(&mut pass, &x, 0, 64, &out);
            match recorded.and_then(|()| pass.submit_and_read_u32(&out, 0, 1)) {
                Err(e) => e.to_string(),
                Ok(value) => panic!("a lost device answered {value:?}"),
            }
        }
    };
    assert!(
        error.contains("stopped answering") || error.contains("lost"),
        "{error}"
    );
}
