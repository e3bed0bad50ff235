//! `POST /v1/audio/transcriptions` (Whisper, a multipart upload; `json`, `text`, `srt`,
//! `verbose_json`) and `POST /v1/audio/speech` (text-to-speech; WAV or raw PCM at the
//! model's rate; an MMS voice is one speaker, so OpenAI's `voice` is read past).

use std::sync::Arc;

use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::http::{Exchange, Failure, Reply, blocking};
use super::multipart;
use super::openai::ApiError;
use crate::infer::Request;
use crate::infer::tasks::speech_recognition::{
    AUTOMATIC_SPEECH_RECOGNITION, SpeechRequest as TranscriptionRequest, SpeechTask, Transcript,
};
use crate::infer::tasks::text_to_speech::{SpeechOutput, SpeechRequest, TEXT_TO_SPEECH};
use crate::media::audio::{decode_16k_mono, pcm16, wav_bytes};
use crate::media::transcript::to_srt;

/// The answer formats of a transcription.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    Text,
    Srt,
    VerboseJson,
}

impl Format {
    fn parse(name: &str) -> Result<Format, ApiError> {
        match name {
            "" | "json" => Ok(Format::Json),
            "text" => Ok(Format::Text),
            "srt" => Ok(Format::Srt),
            "verbose_json" => Ok(Format::VerboseJson),
            other => Err(ApiError::bad_param(
                "response_format",
                format!("`response_format` {other:?}: use json, text, srt or verbose_json"),
            )),
        }
    }

    /// Whether the answer needs each segment's times.
    fn wants_timestamps(self) -> bool {
        matches!(self, Format::Srt | Format::VerboseJson)
    }
}

/// `POST /v1/audio/transcriptions`.
pub(crate) async fn transcribe(
    exchange: &Exchange,
    content_type: &str,
    body: Bytes,
) -> Result<Reply, Failure> {
    let fields = multipart::parse(content_type, &body).map_err(ApiError::bad_request)?;
    let field = |name: &str| fields.iter().find(|f| f.name == name);
    let model = field("model")
        .map(multipart::Field::text)
        .ok_or_else(|| ApiError::bad_param("model", "the form has no `model` field"))?;
    let failure = |error: ApiError| Failure {
        error,
        model: Some(model.clone()),
    };
    let file = field("file")
        .ok_or_else(|| failure(ApiError::bad_param("file", "the form has no `file` field")))?;
    let format = Format::parse(
        &field("response_format")
            .map(multipart::Field::text)
            .unwrap_or_default(),
    )
    .map_err(failure)?;
    let language = field("language")
        .map(multipart::Field::text)
        .filter(|l| !l.is_empty());
    let name = file.filename.clone().unwrap_or_else(|| "upload".into());
    let bytes: Arc<[u8]> = Arc::from(&file.data[..]);
    let pool = exchange.shared.pool.clone();
    let job_model = model.clone();
    let result = blocking(move || {
        let clip = decode_16k_mono(&name, bytes)
            .map_err(|e| ApiError::bad_param("file", format!("could not read the audio: {e}")))?;
        let request = TranscriptionRequest {
            samples: clip.samples,
            language,
            task: SpeechTask::Transcribe,
            timestamps: format.wants_timestamps(),
        };
        pool.run_for::<Transcript>(
            &job_model,
            AUTOMATIC_SPEECH_RECOGNITION,
            Request::new(request),
        )
    })
    .await?;
    let (transcript, notes) = result.map_err(failure)?;
    let note = format!(
        "{:.1} s of audio, real-time factor {:.2}{}",
        transcript.audio_seconds,
        transcript.real_time_factor,
        notes.suffix()
    );
    let text = transcript.text.trim().to_string();
    Ok(match format {
        Format::Json => Reply::json(&json!({"text": text}), Some(model), note),
        Format::Text => Reply::bytes(
            "text/plain; charset=utf-8",
            Bytes::from(format!("{text}\n")),
            Some(model),
            note,
        ),
        Format::Srt => Reply::bytes(
            "text/plain; charset=utf-8",
            Bytes::from(to_srt(&transcript.segments)),
            Some(model),
            note,
        ),
        Format::VerboseJson => {
            let segments: Vec<serde_json::Value> = transcript
                .segments
                .iter()
                .enumerate()
                .map(|(id, s)| json!({"id": id, "seek": 0, "start": s.start, "end": s.end, "text": s.text}))
                .collect();
            let value = json!({
                "task": "transcribe",
                "language": transcript.language,
                "duration": transcript.audio_seconds,
                "text": text,
                "segments": segments,
            });
            Reply::json(&value, Some(model), note)
        }
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SpeechBody {
    model: String,
    input: String,
    response_format: Option<String>,
    speed: Option<f64>,
    seed: Option<u64>,
}

/// `POST /v1/audio/speech`.
pub(crate) async fn speech(exchange: &Exchange, body: SpeechBody) -> Result<Reply, Failure> {
    let model = body.model.clone();
    let failure = |error: ApiError| Failure {
        error,
        model: Some(model.clone()),
    };
    let raw = match body.response_format.as_deref() {
        None | Some("wav") => false,
        Some("pcm") => true,
        Some(other) => {
            return Err(failure(ApiError::bad_param(
                "response_format",
                format!("`response_format` {other:?}: this server writes wav or pcm"),
            )));
        }
    };
    if let Some(speed) = body.speed.filter(|s| !(0.25..=4.0).contains(s)) {
        return Err(failure(ApiError::bad_param(
            "speed",
            format!("`speed` {speed} is not between 0.25 and 4"),
        )));
    }
    let request = SpeechRequest {
        text: body.input,
        speaking_rate: body.speed,
        noise_scale: None,
        noise_scale_duration: None,
        seed: body.seed.unwrap_or_default(),
        speaker: None,
        output: None,
    };
    let pool = exchange.shared.pool.clone();
    let job_model = body.model.clone();
    let (speech, notes) = blocking(move || {
        pool.run_for::<SpeechOutput>(&job_model, TEXT_TO_SPEECH, Request::new(request))
    })
    .await?
    .map_err(failure)?;
    let note = format!("{:.1} s of speech{}", speech.audio_seconds, notes.suffix());
    Ok(if raw {
        let pcm = pcm16(&speech.samples);
        Reply::bytes("audio/pcm", Bytes::from(pcm), Some(body.model), note)
    } else {
        let wav = wav_bytes(&speech.samples, speech.sampling_rate);
        Reply::bytes("audio/wav", Bytes::from(wav), Some(body.model), note)
    })
}
