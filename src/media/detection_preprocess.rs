//! transformers' DETR and YOLOS image processors (PIL backend, `DetrImageProcessorPil`,
//! `YolosImageProcessorPil`) read from preprocessor_config.json: the output size from
//! `shortest_edge`/`longest_edge` (or the legacy `size` + `max_size`) with their exact rounding
//! (YOLOS also rounds both sides down to a multiple of 16), then the generic
//! [`ImageProcessor`]'s Pillow resize, rescale and normalise. Batches pad to their largest
//! image; one image is never padded, so its pixel mask is all ones and is not produced here.

use std::path::Path;

use image::RgbImage;
use serde_json::{Value, json};

use super::preprocess::{ImageProcessor, PixelValues, PreprocessError, Size, read_config};

/// The resize rule from `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionSize {
    /// The shorter side becomes `shortest` unless the longer would then exceed `longest`.
    Edges {
        /// Target of the shorter side.
        shortest: u32,
        /// Bound on the longer side.
        longest: u32,
    },
    /// Exactly this height and width.
    Exact {
        /// Rows.
        height: u32,
        /// Columns.
        width: u32,
    },
}

/// A parsed DETR / YOLOS preprocessor_config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionProcessor {
    /// `do_resize` and its rule.
    pub size: Option<DetectionSize>,
    /// YOLOS' variant of the rule (both sides rounded down to a multiple of 16).
    pub yolos: bool,
    /// Filter, rescale and normalisation (its own resize and crop are off).
    pub base: ImageProcessor,
}

impl DetectionProcessor {
    /// Reads `dir/preprocessor_config.json`.
    pub fn from_dir(dir: &Path) -> Result<DetectionProcessor, PreprocessError> {
        let (path, json) = read_config(dir)?;
        DetectionProcessor::from_json(&json)
            .map_err(|message| PreprocessError::BadConfig { path, message })
    }

    /// Parses the JSON; missing keys take `DetrImageProcessor`'s defaults (800/1333, bilinear,
    /// ImageNet mean and std).
    pub fn from_json(json: &Value) -> Result<DetectionProcessor, String> {
        let kind = ["image_processor_type", "feature_extractor_type"]
            .iter()
            .find_map(|k| json.get(*k).and_then(Value::as_str))
            .unwrap_or("DetrImageProcessor");
        let flag = |key: &str| json.get(key).and_then(Value::as_bool).unwrap_or(true);
        if flag("do_pad") && json.get("pad_size").is_some_and(|v| !v.is_null()) {
            return Err("pad_size is not supported: remove it (one image needs no padding)".into());
        }
        let size = parse_size(json.get("size"), json.get("max_size"))?;
        let mut generic = json.clone();
        let map = generic
            .as_object_mut()
            .ok_or("preprocessor_config.json must be an object")?;
        for (key, default) in [
            ("resample", json!(2)),
            ("image_mean", json!([0.485, 0.456, 0.406])),
            ("image_std", json!([0.229, 0.224, 0.225])),
        ] {
            if map.get(key).is_none_or(Value::is_null) {
                map.insert(key.into(), default);
            }
        }
        map.insert("image_processor_type".into(), json!(kind));
        map.insert("do_resize".into(), json!(false));
        map.insert("do_center_crop".into(), json!(false));
        map.remove("size");
        map.remove("crop_size");
        Ok(DetectionProcessor {
            size: flag("do_resize").then_some(size),
            yolos: kind.starts_with("Yolos"),
            base: ImageProcessor::from_json(&generic)?,
        })
    }

    /// The resized (height, width) of a `width × height` image.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        match self.size {
            None => (height, width),
            Some(DetectionSize::Exact { height, width }) => (height, width),
            Some(DetectionSize::Edges { shortest, longest }) => {
                edges_size(height, width, shortest, longest, self.yolos)
            }
        }
    }

    /// Resize → rescale → normalise an RGB image: `(3, height, width)` values.
    pub fn preprocess(&self, image: &RgbImage) -> Result<PixelValues, PreprocessError> {
        if image.width() == 0 || image.height() == 0 {
            return Err(PreprocessError::Image("the image has no pixels".into()));
        }
        let (height, width) = self.output_size(image.width(), image.height());
        if height == 0 || width == 0 {
            return Err(PreprocessError::Image(format!(
                "the image ({} × {}) is too thin to resize",
                image.width(),
                image.height()
            )));
        }
        let mut processor = self.base.clone();
        processor.resize = self.size.is_some().then_some(Size::Exact { height, width });
        processor.preprocess(image)
    }
}

/// transformers' `get_size_with_aspect_ratio` (DETR) and `get_size_with_aspect_ratio_yolos`
/// (YOLOS: the portrait branch first, then both sides rounded down to a multiple of 16), in f64
/// as Python computes them: (height, width).
fn edges_size(height: u32, width: u32, shortest: u32, longest: u32, yolos: bool) -> (u32, u32) {
    let (h, w) = (f64::from(height), f64::from(width));
    let (min, max) = (h.min(w), h.max(w));
    let mut size = shortest;
    let mut raw = None;
    if max / min * f64::from(shortest) > f64::from(longest) {
        let r = f64::from(longest) * min / max;
        raw = Some(r);
        size = r.round_ties_even() as u32;
    }
    let scaled = |num: f64, den: f64| (raw.unwrap_or(f64::from(size)) * num / den) as u32;
    let unchanged = (height <= width && height == size) || (width <= height && width == size);
    let (oh, ow) = if yolos {
        if width < height {
            (scaled(h, w), size)
        } else if unchanged {
            (height, width)
        } else {
            (size, scaled(w, h))
        }
    } else if unchanged {
        (height, width)
    } else if width < height {
        (scaled(h, w), size)
    } else {
        (size, scaled(w, h))
    };
    if yolos {
        (oh - oh % 16, ow - ow % 16)
    } else {
        (oh, ow)
    }
}

fn parse_size(size: Option<&Value>, max_size: Option<&Value>) -> Result<DetectionSize, String> {
    let dim = |v: &Value| {
        v.as_u64()
            .filter(|n| (1..=8192).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| format!("image size {v} must be between 1 and 8192"))
    };
    let longest = match max_size {
        None | Some(Value::Null) => None,
        Some(v) => Some(dim(v)?),
    };
    match size {
        None | Some(Value::Null) => Ok(DetectionSize::Edges {
            shortest: 800,
            longest: longest.unwrap_or(1333),
        }),
        Some(v @ Value::Number(_)) => Ok(DetectionSize::Edges {
            shortest: dim(v)?,
            longest: longest.unwrap_or(1333),
        }),
        Some(Value::Object(map)) => {
            if let Some(s) = map.get("shortest_edge") {
                let longest = match map.get("longest_edge") {
                    Some(l) => dim(l)?,
                    None => longest.ok_or("size has shortest_edge but no longest_edge")?,
                };
                Ok(DetectionSize::Edges {
                    shortest: dim(s)?,
                    longest,
                })
            } else if let (Some(h), Some(w)) = (map.get("height"), map.get("width")) {
                Ok(DetectionSize::Exact {
                    height: dim(h)?,
                    width: dim(w)?,
                })
            } else {
                Err(format!(
                    "size {} needs shortest_edge and longest_edge, or height and width",
                    Value::Object(map.clone())
                ))
            }
        }
        Some(other) => Err(format!("size must be a number or an object, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::resample::Filter;

    #[test]
    fn sizes_follow_transformers_rounding() {
        // Landscape within the bound: the short side becomes 800.
        assert_eq!(edges_size(480, 640, 800, 1333, false), (800, 1066));
        // Too long: raw size 1333 · 300 / 1000 = 399.9 → 400, width from the raw size.
        assert_eq!(edges_size(300, 1000, 800, 1333, false), (400, 1333));
        // Already the right size.
        assert_eq!(edges_size(800, 900, 800, 1333, false), (800, 900));
        // Portrait.
        assert_eq!(edges_size(640, 480, 800, 1333, false), (1066, 800));
        // YOLOS: multiples of 16.
        assert_eq!(edges_size(480, 640, 800, 1333, true), (800, 1056));
        assert_eq!(edges_size(300, 451, 72, 100, true), (64, 96));
    }

    #[test]
    fn legacy_and_current_configs_parse() {
        let legacy = DetectionProcessor::from_json(&json!({
            "feature_extractor_type": "YolosFeatureExtractor", "size": 512, "max_size": 864}))
        .unwrap();
        assert!(legacy.yolos);
        assert_eq!(
            legacy.size,
            Some(DetectionSize::Edges {
                shortest: 512,
                longest: 864
            })
        );
        assert_eq!(legacy.base.filter, Filter::Bilinear);
        assert_eq!(
            legacy.base.normalize.map(|(mean, _)| mean),
            Some([0.485, 0.456, 0.406])
        );
        assert_eq!((legacy.base.resize, legacy.base.center_crop), (None, None));
        let detr = DetectionProcessor::from_json(&json!({
            "image_processor_type": "DetrImageProcessor",
            "size": {"shortest_edge": 96, "longest_edge": 140}}))
        .unwrap();
        assert!(!detr.yolos);
        assert_eq!(detr.output_size(451, 300), (93, 140));
        assert!(DetectionProcessor::from_json(&json!({"size": {"shortest_edge": 3}})).is_err());
        assert!(DetectionProcessor::from_json(&json!({"pad_size": {"height": 9}})).is_err());
        assert!(DetectionProcessor::from_json(&json!({"size": 0})).is_err());
    }
}
