//! Remote text classification, image classification and speech recognition through the
//! router's HF-inference provider: `POST {router}/hf-inference/models/{id}` with `{"inputs":
//! text}` as JSON, or the raw image / audio bytes with their `Content-Type`. Answers are read
//! leniently: labels as `[[{label, score}…]]` or `[{label, score}…]`, speech as `{text, chunks?}`.

use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde::{Deserialize, Serialize};

use super::router_url;
use crate::hub::{HubClient, HubError, HubRequest, RepoId};
use crate::results::LabelScore;

/// A task the router's HF-inference provider runs for Hubble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteTask {
    /// Text in, labels with scores out.
    TextClassification,
    /// An image in, labels with scores out.
    ImageClassification,
    /// Audio in, a transcript out.
    AutomaticSpeechRecognition,
}

impl RemoteTask {
    /// Every task, in the order menus list them.
    pub const ALL: [RemoteTask; 3] = [
        RemoteTask::TextClassification,
        RemoteTask::ImageClassification,
        RemoteTask::AutomaticSpeechRecognition,
    ];

    /// The Hub's pipeline tag (`text-classification`, …).
    pub fn pipeline_tag(self) -> &'static str {
        match self {
            RemoteTask::TextClassification => "text-classification",
            RemoteTask::ImageClassification => "image-classification",
            RemoteTask::AutomaticSpeechRecognition => "automatic-speech-recognition",
        }
    }

    /// The task for a model's pipeline tag, if it is one of these.
    pub fn from_pipeline_tag(tag: &str) -> Option<RemoteTask> {
        RemoteTask::ALL
            .into_iter()
            .find(|t| t.pipeline_tag() == tag)
    }

    /// Whether the input is text (else a file).
    pub fn takes_text(self) -> bool {
        self == RemoteTask::TextClassification
    }

    /// What kind of file the task takes ("an image", "audio"); `None` for text.
    pub fn file_kind(self) -> Option<&'static str> {
        match self {
            RemoteTask::TextClassification => None,
            RemoteTask::ImageClassification => Some("an image"),
            RemoteTask::AutomaticSpeechRecognition => Some("audio"),
        }
    }
}

impl std::fmt::Display for RemoteTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.pipeline_tag())
    }
}

/// What a remote task is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteInput {
    /// The text to classify.
    Text(String),
    /// A file's bytes and their media type (`image/png`, `audio/wav`, …; see [`media_type`]).
    File {
        /// The contents.
        bytes: Vec<u8>,
        /// The `Content-Type` sent with them.
        content_type: String,
    },
}

/// One timed piece of a remote transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptChunk {
    /// The words.
    pub text: String,
    /// Start, in seconds, when the router gave one.
    pub start: Option<f64>,
    /// End, in seconds, when the router gave one.
    pub end: Option<f64>,
}

/// A remote transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteTranscript {
    /// The whole text.
    pub text: String,
    /// Timed pieces, when the router returned them.
    pub chunks: Vec<TranscriptChunk>,
}

/// What a remote task returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RemoteOutput {
    /// Classification: labels sorted by score, highest first.
    Labels {
        /// The labels.
        labels: Vec<LabelScore>,
    },
    /// Speech recognition.
    Transcript(RemoteTranscript),
}

/// A label as the router writes it (a number is accepted too).
#[derive(Deserialize)]
#[serde(untagged)]
enum LabelText {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct RawLabel {
    label: LabelText,
    #[serde(default)]
    score: f32,
}

/// `[[{label, score}…]]` (one list per input) or `[{label, score}…]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum LabelsAnswer {
    Nested(Vec<Vec<RawLabel>>),
    Flat(Vec<RawLabel>),
}

#[derive(Deserialize)]
struct SpeechAnswer {
    text: String,
    #[serde(default)]
    chunks: Vec<RawChunk>,
}

#[derive(Deserialize)]
struct RawChunk {
    #[serde(default)]
    text: String,
    #[serde(default)]
    timestamp: Vec<Option<f64>>,
}

/// Parses a classification answer; labels come back sorted by score.
fn parse_labels(value: serde_json::Value) -> Result<Vec<LabelScore>, String> {
    let raw = match serde_json::from_value(value) {
        Ok(LabelsAnswer::Nested(mut lists)) => {
            if lists.is_empty() {
                Vec::new()
            } else {
                lists.swap_remove(0)
            }
        }
        Ok(LabelsAnswer::Flat(list)) => list,
        Err(_) => return Err("expected a list of {label, score}".into()),
    };
    let mut labels: Vec<LabelScore> = raw
        .into_iter()
        .map(|raw| LabelScore {
            label: match raw.label {
                LabelText::Text(text) => text,
                LabelText::Number(n) => n.to_string(),
            },
            score: raw.score,
        })
        .collect();
    labels.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(labels)
}

/// Parses a speech-recognition answer.
fn parse_transcript(value: serde_json::Value) -> Result<RemoteTranscript, String> {
    let answer: SpeechAnswer = serde_json::from_value(value)
        .map_err(|e| format!("expected {{\"text\": …, \"chunks\"?: […]}}: {e}"))?;
    Ok(RemoteTranscript {
        text: answer.text,
        chunks: answer
            .chunks
            .into_iter()
            .map(|c| TranscriptChunk {
                text: c.text,
                start: c.timestamp.first().copied().flatten(),
                end: c.timestamp.get(1).copied().flatten(),
            })
            .collect(),
    })
}

/// The `Content-Type` to send `bytes` (named `name`) with for `task`: sniffed from the content
/// (images by the `image` crate; WAV, FLAC, Ogg, MP3, AAC and MP4 audio by their magic bytes),
/// else from the extension; an error when it is not that kind of file.
pub fn media_type(task: RemoteTask, name: &str, bytes: &[u8]) -> Result<String, HubError> {
    let extension = std::path::Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let found = match task {
        RemoteTask::TextClassification => None,
        RemoteTask::ImageClassification => image::guess_format(bytes)
            .ok()
            .map(|format| format.to_mime_type().to_owned()),
        RemoteTask::AutomaticSpeechRecognition => sniff_audio(bytes)
            .or_else(|| audio_by_extension(&extension))
            .map(str::to_owned),
    };
    found.ok_or_else(|| {
        HubError::InvalidInput(format!(
            "{name} is not {} the router can take.",
            task.file_kind().unwrap_or("a file")
        ))
    })
}

/// Reads an image or audio file for `task` (at most [`crate::media::MAX_FILE_BYTES`]) and names
/// its media type ([`media_type`]).
pub async fn read_input_file(
    task: RemoteTask,
    path: &std::path::Path,
) -> Result<RemoteInput, HubError> {
    let unreadable = |e: std::io::Error| {
        HubError::InvalidInput(format!("Could not read {}: {e}", path.display()))
    };
    let size = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
    if size > crate::media::MAX_FILE_BYTES {
        return Err(HubError::InvalidInput(format!(
            "{} is larger than {} MiB.",
            path.display(),
            crate::media::MAX_FILE_BYTES >> 20
        )));
    }
    let bytes = tokio::fs::read(path).await.map_err(unreadable)?;
    let content_type = media_type(task, &path.display().to_string(), &bytes)?;
    Ok(RemoteInput::File {
        bytes,
        content_type,
    })
}

/// Audio media types by magic bytes.
fn sniff_audio(bytes: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"RIFF") && at(8, b"WAVE") {
        Some("audio/wav")
    } else if at(0, b"fLaC") {
        Some("audio/flac")
    } else if at(0, b"OggS") {
        Some("audio/ogg")
    } else if at(4, b"ftyp") {
        Some("audio/mp4")
    } else if at(0, b"ID3") {
        Some("audio/mpeg")
    } else {
        match bytes {
            // ADTS (AAC) frames set layer bits 00, MPEG audio frames don't.
            [0xFF, b, ..] if b & 0xF6 == 0xF0 => Some("audio/aac"),
            [0xFF, b, ..] if b & 0xE0 == 0xE0 => Some("audio/mpeg"),
            _ => None,
        }
    }
}

/// Audio media types by extension (for content the sniffer does not know).
fn audio_by_extension(extension: &str) -> Option<&'static str> {
    Some(match extension {
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "m4a" | "mp4" => "audio/mp4",
        "aac" => "audio/aac",
        "webm" => "audio/webm",
        _ => return None,
    })
}

impl HubClient {
    /// Runs `task` on `model` with the router's HF-inference provider (remote: the input and the
    /// token go to the router). Text classification takes [`RemoteInput::Text`], the other
    /// tasks [`RemoteInput::File`]. A model the router is still loading is
    /// [`HubError::ModelLoading`].
    pub async fn remote_task(
        &self,
        model: &RepoId,
        task: RemoteTask,
        input: RemoteInput,
    ) -> Result<RemoteOutput, HubError> {
        let (body, content_type) = match (task.takes_text(), input) {
            (true, RemoteInput::Text(text)) => (
                serde_json::to_vec(&serde_json::json!({ "inputs": text })).map_err(|e| {
                    HubError::InvalidInput(format!("could not write the request: {e}"))
                })?,
                "application/json".to_owned(),
            ),
            (
                false,
                RemoteInput::File {
                    bytes,
                    content_type,
                },
            ) => (bytes, content_type),
            (true, RemoteInput::File { .. }) => {
                return Err(HubError::InvalidInput(format!(
                    "{task} takes text, not a file."
                )));
            }
            (false, RemoteInput::Text(_)) => {
                return Err(HubError::InvalidInput(format!(
                    "{task} takes {}, not text.",
                    task.file_kind().unwrap_or("a file")
                )));
            }
        };
        let base = hf_inference_base(&self.config().router_endpoint);
        let url = router_url(&base, &format!("/models/{model}"))?;
        let mut http = HubRequest::get(self, url)
            .about(model.as_str(), None, None)
            .at(crate::config::ROUTER_ENDPOINT_ENV);
        http.method = Method::POST;
        http.body = Some(body);
        http.to_router = true;
        http.timeout = self.config().download_timeout;
        let content_type = HeaderValue::from_str(&content_type)
            .map_err(|_| HubError::InvalidInput(format!("bad media type {content_type:?}")))?;
        http.headers.insert(header::CONTENT_TYPE, content_type);
        http.headers
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let value: serde_json::Value = self.json(&http).await?;
        let parsed = match task {
            RemoteTask::TextClassification | RemoteTask::ImageClassification => {
                parse_labels(value).map(|labels| RemoteOutput::Labels { labels })
            }
            RemoteTask::AutomaticSpeechRecognition => {
                parse_transcript(value).map(RemoteOutput::Transcript)
            }
        };
        parsed.map_err(|detail| HubError::InvalidResponse {
            url: http.url.to_string(),
            detail,
        })
    }
}

/// The router's HF-inference provider, where the task requests go: the root of
/// [`crate::config::HubConfig::router_endpoint`] (without the `/v1` of its OpenAI-compatible
/// API) and `/hf-inference` (`https://router.huggingface.co/v1` →
/// `https://router.huggingface.co/hf-inference`).
pub fn hf_inference_base(endpoint: &str) -> String {
    let root = endpoint.strip_suffix("/v1").unwrap_or(endpoint);
    format!("{root}/hf-inference")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_nested_or_flat_are_sorted() {
        let nested = json!([[{ "label": "NEG", "score": 0.1 }, { "label": "POS", "score": 0.9 }]]);
        let labels = parse_labels(nested).unwrap();
        assert_eq!(labels[0].label, "POS");
        assert_eq!(labels[1].score, 0.1);
        let flat = json!([{ "label": 3, "score": 0.2 }, { "label": "tabby", "score": 0.7 }]);
        let labels = parse_labels(flat).unwrap();
        assert_eq!(
            labels.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(),
            ["tabby", "3"]
        );
        assert_eq!(parse_labels(json!([])).unwrap(), Vec::new());
        assert!(parse_labels(json!({ "error": "x" })).is_err());
    }

    #[test]
    fn transcripts_read_text_and_optional_chunks() {
        let plain = parse_transcript(json!({ "text": "hello" })).unwrap();
        assert_eq!(plain.text, "hello");
        assert!(plain.chunks.is_empty());
        let timed = parse_transcript(json!({
            "text": "a b", "chunks": [{ "text": "a", "timestamp": [0.0, 0.5] },
                                      { "text": "b", "timestamp": [0.5, null] }]
        }))
        .unwrap();
        assert_eq!(timed.chunks[0].end, Some(0.5));
        assert_eq!(timed.chunks[1].start, Some(0.5));
        assert_eq!(timed.chunks[1].end, None);
        assert!(parse_transcript(json!([1, 2])).is_err());
    }

    #[test]
    fn media_types_are_sniffed_then_guessed_from_the_extension() {
        let wav = [b"RIFF".as_slice(), &[0; 4], b"WAVE"].concat();
        let asr = RemoteTask::AutomaticSpeechRecognition;
        assert_eq!(media_type(asr, "x.bin", &wav).unwrap(), "audio/wav");
        assert_eq!(media_type(asr, "x", b"fLaC....").unwrap(), "audio/flac");
        assert_eq!(
            media_type(asr, "x", &[0xFF, 0xFB, 0x90]).unwrap(),
            "audio/mpeg"
        );
        assert_eq!(
            media_type(asr, "x", &[0xFF, 0xF1, 0x50]).unwrap(),
            "audio/aac"
        );
        assert_eq!(media_type(asr, "song.MP3", b"??").unwrap(), "audio/mpeg");
        assert!(media_type(asr, "notes.txt", b"hello").is_err());
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0];
        let image = RemoteTask::ImageClassification;
        assert_eq!(media_type(image, "cat", &png).unwrap(), "image/png");
        assert!(media_type(image, "cat.png", b"not a png").is_err());
    }

    #[test]
    fn the_hf_inference_provider_sits_at_the_router_root() {
        assert_eq!(
            hf_inference_base("https://router.huggingface.co/v1"),
            "https://router.huggingface.co/hf-inference"
        );
        assert_eq!(
            hf_inference_base("http://127.0.0.1:9/x"),
            "http://127.0.0.1:9/x/hf-inference"
        );
        for tag in ["text-classification", "automatic-speech-recognition"] {
            assert_eq!(
                RemoteTask::from_pipeline_tag(tag).unwrap().pipeline_tag(),
                tag
            );
        }
        assert_eq!(RemoteTask::from_pipeline_tag("text-generation"), None);
    }
}
