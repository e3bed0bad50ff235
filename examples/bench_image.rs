//! Image-classification latency on this machine (used by `scripts/bench-image.sh`, not a test):
//! loads a checkpoint folder, then times preprocessing (decode excluded) and the forward pass
//! separately over several runs after one warm-up, and prints one JSON line.
//!
//!     cargo run --example bench_image -- MODEL_DIR IMAGE [RUNS]

use std::path::PathBuf;
use std::time::Instant;

use hubble::infer::registry::plan;
use hubble::infer::tasks::image_classification::{ClassifierArch, ImageClassifier};
use hubble::infer::{Device, ModelFacts};
use hubble::media::{ImageProcessor, load_image};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_image MODEL_DIR IMAGE [RUNS]";
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let image = load_image(&PathBuf::from(args.next().ok_or(usage)?))?;
    let runs: usize = args.next().map_or(Ok(10), |r| r.parse())?;
    let plan = plan(&ModelFacts::from_dir(&dir)?, None)?;
    let arch = *plan
        .loader::<ClassifierArch>()
        .map_err(|_| "not an image classifier")?;
    let start = Instant::now();
    let model = ImageClassifier::load_dir(&dir, arch, &Device::Cpu)?;
    let load_s = start.elapsed().as_secs_f64();
    let processor = ImageProcessor::from_dir(&dir)?;
    let (mut preprocess, mut total) = (Vec::new(), Vec::new());
    for run in 0..=runs {
        let t = Instant::now();
        processor.preprocess(&image)?;
        let pre = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        model.probabilities(&image)?;
        let all = t.elapsed().as_secs_f64() * 1e3;
        if run > 0 {
            preprocess.push(pre);
            total.push(all);
        }
    }
    let (pre, all) = (median(preprocess), median(total));
    println!(
        "{}",
        serde_json::json!({
            "arch": format!("{arch:?}"), "load_s": load_s, "preprocess_ms": pre,
            "total_ms": all, "forward_ms": all - pre, "runs": runs,
        })
    );
    Ok(())
}
