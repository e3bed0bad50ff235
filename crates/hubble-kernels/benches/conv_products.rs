//! Micro-benchmark of `hubble_kernels::conv2d` on the models' convolution shapes (not a test):
//!
//! ```sh
//! cargo bench -p hubble-kernels --bench conv_products [-- FILTER]
//! ```
//!
//! ResNet-50's 3 × 3 and 1 × 1 layers at 56² and 14², Whisper tiny's two input convolutions,
//! HiFi-GAN's (MMS-TTS, 2.3 s of audio) resblock convolutions at each upsampling stage, and a
//! Stable Diffusion VAE 3 × 3 layer at 128²: the best of several runs, in ms per call and
//! GFLOP/s (two per weight and output position).

use std::time::{Duration, Instant};

use hubble_kernels::{ConvShape, Fused, InputMap, OutputMap, conv2d};

/// `(label, inputs, outputs, (height, width), (kernel rows, kernel columns), stride, dilation)`;
/// padding keeps the size at stride 1.
type Case = (
    &'static str,
    usize,
    usize,
    (usize, usize),
    (usize, usize),
    usize,
    usize,
);

const CASES: [Case; 12] = [
    ("resnet 3x3 64ch 56²", 64, 64, (56, 56), (3, 3), 1, 1),
    ("resnet 1x1 64→256 56²", 64, 256, (56, 56), (1, 1), 1, 1),
    ("resnet 3x3 256ch 14²", 256, 256, (14, 14), (3, 3), 1, 1),
    ("resnet stem 7x7/2 224²", 3, 64, (224, 224), (7, 7), 2, 1),
    ("whisper conv1 80→384 k3", 80, 384, (1, 3000), (1, 3), 1, 1),
    ("whisper conv2 384 k3/2", 384, 384, (1, 3000), (1, 3), 2, 1),
    ("hifigan 256ch k3 d1", 256, 256, (1, 1480), (1, 3), 1, 1),
    ("hifigan 128ch k7 d3", 128, 128, (1, 11840), (1, 7), 1, 3),
    ("hifigan 64ch k11 d5", 64, 64, (1, 23680), (1, 11), 1, 5),
    ("hifigan 32ch k3 d1", 32, 32, (1, 47360), (1, 3), 1, 1),
    ("hifigan 32ch k11 d5", 32, 32, (1, 47360), (1, 11), 1, 5),
    ("sd vae 3x3 128ch 128²", 128, 128, (128, 128), (3, 3), 1, 1),
];

fn values(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!("| convolution | threads | ms | GFLOP/s |\n|---|---|---|---|");
    for (label, inputs, outputs, size, kernel, stride, dilation) in CASES {
        if filter.as_ref().is_some_and(|f| !label.contains(f.as_str())) {
            continue;
        }
        let shape = ConvShape {
            inputs,
            outputs,
            size,
            kernel,
            stride: (stride.min(size.0), stride),
            padding: ((kernel.0 - 1) * dilation / 2, (kernel.1 - 1) * dilation / 2),
            dilation: (dilation, dilation),
        };
        let (rows, columns) = shape.output_size().expect("a valid case");
        let input = values(inputs * size.0 * size.1, 1);
        let weight = values(outputs * kernel.0 * kernel.1 * inputs, 2);
        let bias = values(outputs, 3);
        let mut out = vec![0f32; outputs * rows * columns];
        let fused = Fused {
            bias: Some(&bias),
            residual: None,
            input_map: InputMap::Identity,
            output_map: OutputMap::Identity,
        };
        let mut best = Duration::MAX;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let start = Instant::now();
            conv2d(&shape, &input, &weight, fused, &mut out).expect("a valid case");
            best = best.min(start.elapsed());
        }
        let flops = 2.0 * (outputs * rows * columns * kernel.0 * kernel.1 * inputs) as f64;
        println!(
            "| {label} | {} | {:.2} | {:.0} |",
            rayon::current_num_threads(),
            best.as_secs_f64() * 1e3,
            flops / best.as_secs_f64() / 1e9
        );
    }
}
