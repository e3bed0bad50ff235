//! Image and audio cells of a preview: the dataset viewer's `{"src": URL, "width", "height"}`
//! images and `[{"src": URL, "type": "audio/wav"}]` audio, and the `{"bytes", "path"}` structs
//! the `datasets` library writes into Parquet (bytes arrive base64-encoded from the row API).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::format::bytes as size_text;

/// What a media cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A sound.
    Audio,
}

/// Where a media cell's content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// On the web (the viewer's assets).
    Url(String),
    /// Inside the data file.
    Bytes(Arc<[u8]>),
}

/// One image or audio clip of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CellMedia {
    /// Image or audio.
    pub kind: MediaKind,
    /// URL or bytes.
    pub source: MediaSource,
    /// The file name the dataset gives it (`path`), if any.
    pub name: Option<String>,
    /// Pixel size, when the viewer gave it.
    pub size: Option<(u32, u32)>,
    /// Length in seconds, for embedded audio whose header says it.
    pub seconds: Option<f64>,
}

impl CellMedia {
    /// One line for a terminal: `[image] URL`, `[audio] name (12 kB, 3.2 s)`.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
        };
        match &self.source {
            MediaSource::Url(url) => format!("[{kind}] {url}"),
            MediaSource::Bytes(bytes) => {
                let mut facts = vec![size_text(bytes.len() as u64)];
                if let Some(seconds) = self.seconds {
                    facts.push(format!("{seconds:.1} s"));
                }
                let name = self.name.as_deref().unwrap_or("embedded");
                format!("[{kind}] {name} ({})", facts.join(", "))
            }
        }
    }
}

/// The images and audio in a cell of a column of type `dtype` (`Image`, `Audio`, or anything
/// else: then the content decides). Empty when the cell holds no media.
pub fn cell_media(value: &Value, dtype: &str) -> Vec<CellMedia> {
    let hint = match dtype {
        "Image" => Some(MediaKind::Image),
        "Audio" => Some(MediaKind::Audio),
        _ => None,
    };
    match value {
        Value::Object(map) => one(map, hint).into_iter().collect(),
        Value::Array(items) => {
            let media: Vec<CellMedia> = items
                .iter()
                .filter_map(|item| item.as_object().and_then(|m| one(m, hint)))
                .collect();
            // The viewer lists one clip in several formats: they are alternatives.
            if !media.is_empty() && media.iter().all(|m| m.kind == MediaKind::Audio) {
                media.into_iter().take(1).collect()
            } else {
                media
            }
        }
        _ => Vec::new(),
    }
}

/// A viewer asset (`src`) or an embedded `{bytes, path}` struct.
fn one(map: &Map<String, Value>, hint: Option<MediaKind>) -> Option<CellMedia> {
    let name = map.get("path").and_then(Value::as_str).map(str::to_owned);
    if let Some(src) = map.get("src").and_then(Value::as_str) {
        let mime = map.get("type").and_then(Value::as_str).unwrap_or_default();
        let dimension = |key| map.get(key).and_then(Value::as_u64).map(|n| n as u32);
        let size = dimension("width").zip(dimension("height"));
        let kind = if mime.starts_with("audio/") {
            MediaKind::Audio
        } else if mime.starts_with("image/") || size.is_some() {
            MediaKind::Image
        } else {
            hint.or_else(|| kind_by_name(src))?
        };
        return Some(CellMedia {
            kind,
            source: MediaSource::Url(src.to_owned()),
            name,
            size,
            seconds: None,
        });
    }
    let bytes: Arc<[u8]> = decode_base64(map.get("bytes")?.as_str()?)?.into();
    let kind = match hint {
        Some(kind) => kind,
        None if image::guess_format(&bytes).is_ok() => MediaKind::Image,
        None => name.as_deref().and_then(kind_by_name)?,
    };
    let seconds = match kind {
        MediaKind::Audio => crate::media::audio::duration_of(&bytes),
        MediaKind::Image => None,
    };
    Some(CellMedia {
        kind,
        source: MediaSource::Bytes(bytes),
        name,
        size: None,
        seconds,
    })
}

/// Image or audio by a file name's extension.
fn kind_by_name(name: &str) -> Option<MediaKind> {
    let path = name.split(['?', '#']).next().unwrap_or(name);
    let path = std::path::Path::new(path);
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    if crate::media::has_image_extension(path) {
        Some(MediaKind::Image)
    } else if crate::media::audio::EXTENSIONS.contains(&extension.as_str()) {
        Some(MediaKind::Audio)
    } else {
        None
    }
}

/// Standard base64 (with or without padding) → bytes; `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(text)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_round_trips_pythons_encoding() {
        // base64.b64encode(b"hubble!?") in Python.
        assert_eq!(decode_base64("aHViYmxlIT8=").unwrap(), b"hubble!?");
        assert_eq!(decode_base64("aHViYmxl").unwrap(), b"hubble");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("aA").unwrap(), b"h");
        assert!(decode_base64("a").is_none());
        assert!(decode_base64("aGk*").is_none());
    }

    #[test]
    fn viewer_images_and_audio_are_recognised() {
        let image = json!({ "src": "https://v/x/1.jpg", "height": 2, "width": 3 });
        let media = cell_media(&image, "Image");
        assert_eq!(media[0].kind, MediaKind::Image);
        assert_eq!(media[0].size, Some((3, 2)));
        assert_eq!(media[0].describe(), "[image] https://v/x/1.jpg");
        let audio = json!([
            { "src": "https://v/a.wav", "type": "audio/wav" },
            { "src": "https://v/a.mp3", "type": "audio/mpeg" },
        ]);
        let media = cell_media(&audio, "Audio");
        assert_eq!(media.len(), 1);
        assert_eq!(media[0].kind, MediaKind::Audio);
        assert_eq!(media[0].source, MediaSource::Url("https://v/a.wav".into()));
        let images = json!([{ "src": "https://v/1.png" }, { "src": "https://v/2.png" }]);
        assert_eq!(cell_media(&images, "Sequence").len(), 2);
        assert!(cell_media(&json!({ "a": 1 }), "struct").is_empty());
        assert!(cell_media(&json!("text"), "string").is_empty());
    }

    #[test]
    fn embedded_bytes_are_sniffed_when_the_type_is_unknown() {
        // A 1×1 PNG's signature and IHDR start are enough for the sniffer.
        let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
        let cell = json!({ "bytes": png, "path": "dot.png" });
        let media = cell_media(&cell, "struct");
        assert_eq!(media[0].kind, MediaKind::Image);
        assert_eq!(media[0].name.as_deref(), Some("dot.png"));
        assert!(matches!(&media[0].source, MediaSource::Bytes(b) if b.starts_with(b"\x89PNG")));
        assert_eq!(media[0].describe(), "[image] dot.png (70 B)");
        let text = json!({ "bytes": "aGVsbG8=", "path": null });
        assert!(cell_media(&text, "struct").is_empty());
        assert_eq!(cell_media(&text, "Audio")[0].kind, MediaKind::Audio);
    }
}
