//! `POST /v1/chat/completions` and `POST /v1/completions`: text generation through the model's
//! chat template (or raw), whole or streamed as server-sent events, with stop strings and
//! usage counts.

use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::{ChannelBody, Exchange, Failure, Reply, blocking, event_stream, sse};
use super::openai::{ApiError, StopField, Usage, fresh_id, now};
use super::stop::StopWatcher;
use crate::infer::Request;
use crate::infer::tasks::text_generation::{
    ChatMessage, GenerationOutput, GenerationParams, GenerationRequest, Prompt, StopReason,
    TEXT_GENERATION,
};

/// Most tokens an answer gets when the request sets no `max_tokens`.
const DEFAULT_MAX_TOKENS: usize = 512;

#[derive(Debug, Deserialize)]
pub(crate) struct ChatBody {
    model: String,
    messages: Vec<InMessage>,
    #[serde(flatten)]
    sampling: Sampling,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CompletionBody {
    model: String,
    prompt: PromptField,
    #[serde(flatten)]
    sampling: Sampling,
}

/// The settings both endpoints share.
#[derive(Debug, Deserialize)]
struct Sampling {
    #[serde(default)]
    stream: bool,
    stream_options: Option<StreamOptions>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    stop: Option<StopField>,
    seed: Option<u64>,
    n: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct InMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PromptField {
    One(String),
    Many(Vec<String>),
}

/// Which endpoint: they differ only in their JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    Chat,
    Completion,
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(exchange: &Exchange, body: ChatBody) -> Result<Reply, Failure> {
    let messages = body
        .messages
        .into_iter()
        .map(|message| {
            let text = match message.content {
                None => String::new(),
                Some(Content::Text(text)) => text,
                Some(Content::Parts(parts)) => text_of(parts)?,
            };
            Ok(ChatMessage::new(&message.role, &text))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if messages.is_empty() {
        return Err(ApiError::bad_param("messages", "`messages` is empty").into());
    }
    let prompt = Prompt::ChatIfTemplate(messages);
    generate(exchange, body.model, prompt, body.sampling, Flavor::Chat).await
}

/// `POST /v1/completions`: the prompt continued raw.
pub(crate) async fn completions(
    exchange: &Exchange,
    body: CompletionBody,
) -> Result<Reply, Failure> {
    let prompt = match body.prompt {
        PromptField::One(text) => text,
        PromptField::Many(mut list) if list.len() == 1 => list.remove(0),
        PromptField::Many(_) => {
            return Err(ApiError::bad_param("prompt", "one prompt per request, please").into());
        }
    };
    generate(
        exchange,
        body.model,
        Prompt::Raw(prompt),
        body.sampling,
        Flavor::Completion,
    )
    .await
}

fn text_of(parts: Vec<Part>) -> Result<String, ApiError> {
    let mut text = String::new();
    for part in parts {
        match (part.kind.as_str(), part.text) {
            ("text", Some(piece)) => text.push_str(&piece),
            (kind, _) => {
                return Err(ApiError::bad_param(
                    "messages",
                    format!(
                        "message parts of type {kind:?} are not supported: this server's chat models read text"
                    ),
                ));
            }
        }
    }
    Ok(text)
}

fn params(sampling: &Sampling) -> Result<GenerationParams, ApiError> {
    if sampling.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_param("n", "one choice per request (`n` = 1)"));
    }
    let temperature = sampling.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::bad_param(
            "temperature",
            "`temperature` is between 0 and 2",
        ));
    }
    let max_tokens = sampling
        .max_completion_tokens
        .or(sampling.max_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    if max_tokens == 0 {
        return Err(ApiError::bad_param(
            "max_tokens",
            "`max_tokens` is at least 1",
        ));
    }
    Ok(GenerationParams {
        max_tokens,
        temperature,
        top_p: sampling.top_p.filter(|p| *p < 1.0),
        top_k: None,
        repeat_penalty: 1.0,
        seed: sampling.seed.unwrap_or(GenerationParams::default().seed),
        ..GenerationParams::default()
    })
}

async fn generate(
    exchange: &Exchange,
    model: String,
    prompt: Prompt,
    sampling: Sampling,
    flavor: Flavor,
) -> Result<Reply, Failure> {
    let params = params(&sampling).map_err(|error| Failure {
        error,
        model: Some(model.clone()),
    })?;
    let pool = exchange.shared.pool.clone();
    let checked = model.clone();
    blocking(move || pool.check(&checked, TEXT_GENERATION))
        .await?
        .map_err(|error| Failure {
            error,
            model: Some(model.clone()),
        })?;
    let job = Job {
        id: fresh_id(if flavor == Flavor::Chat {
            "chatcmpl"
        } else {
            "cmpl"
        }),
        created: now(),
        model,
        flavor,
        request: GenerationRequest { prompt, params },
        stops: sampling.stop.map(StopField::strings).unwrap_or_default(),
    };
    if sampling.stream {
        let include_usage = sampling.stream_options.is_some_and(|o| o.include_usage);
        return Ok(stream(exchange, job, include_usage));
    }
    let pool = exchange.shared.pool.clone();
    let gone = exchange.gone.clone();
    let model = job.model.clone();
    let (result, watcher) = blocking(move || {
        let mut watcher = StopWatcher::new(job.stops.clone());
        let result = pool.run(
            &job.model,
            TEXT_GENERATION,
            Request::new(job.request.clone()),
            &mut |piece| {
                watcher.push(piece);
                !watcher.stopped() && !gone.load(Ordering::SeqCst)
            },
        );
        (result.map(|(output, notes)| (job, output, notes)), watcher)
    })
    .await?;
    let (job, output, notes) = result.map_err(|error| Failure {
        error,
        model: Some(model.clone()),
    })?;
    let output = take_generation(output)?;
    let (text, finish) = if watcher.stopped() {
        (watcher.text().to_string(), "stop")
    } else {
        (output.text.clone(), finish_reason(output.stop_reason))
    };
    let usage = Usage::new(output.prompt_tokens, output.generated_tokens);
    let choice = match job.flavor {
        Flavor::Chat => json!({
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": null,
            "finish_reason": finish,
        }),
        Flavor::Completion => json!({
            "index": 0, "text": text, "logprobs": null, "finish_reason": finish,
        }),
    };
    let value = json!({
        "id": job.id,
        "object": if job.flavor == Flavor::Chat { "chat.completion" } else { "text_completion" },
        "created": job.created,
        "model": job.model,
        "choices": [choice],
        "usage": usage,
        "system_fingerprint": null,
    });
    Ok(Reply::json(
        &value,
        Some(job.model),
        job_note(&output, &notes),
    ))
}

/// One generation, as the blocking thread takes it.
struct Job {
    id: String,
    created: u64,
    model: String,
    flavor: Flavor,
    request: GenerationRequest,
    stops: Vec<String>,
}

impl Job {
    /// A streamed piece (`delta` for chat, `text` for completions) and its finish reason.
    fn chunk(&self, text: Option<&str>, finish: Option<&str>) -> Value {
        let choice = match self.flavor {
            Flavor::Chat => {
                let delta = match text {
                    Some(text) => json!({"content": text}),
                    None => json!({}),
                };
                json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
            }
            Flavor::Completion => json!({
                "index": 0, "text": text.unwrap_or(""), "logprobs": null, "finish_reason": finish,
            }),
        };
        self.envelope(json!([choice]))
    }

    fn envelope(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": if self.flavor == Flavor::Chat { "chat.completion.chunk" } else { "text_completion" },
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        })
    }
}

/// Streams the answer as server-sent events; the job stops when the client hangs up.
fn stream(exchange: &Exchange, job: Job, include_usage: bool) -> Reply {
    let (tx, rx) = mpsc::unbounded_channel();
    if job.flavor == Flavor::Chat {
        let mut first = job.chunk(Some(""), None);
        first["choices"][0]["delta"]["role"] = json!("assistant");
        let _ = tx.send(sse(&first));
    }
    let pool = exchange.shared.pool.clone();
    let log = exchange.shared.log.clone();
    let request_line = exchange.request_line.clone();
    let started = exchange.started;
    tokio::task::spawn_blocking(move || {
        let mut watcher = StopWatcher::new(job.stops.clone());
        let mut hung_up = false;
        let result = pool.run(
            &job.model,
            TEXT_GENERATION,
            Request::new(job.request.clone()),
            &mut |piece| {
                let ready = watcher.push(piece);
                if !ready.is_empty() && tx.send(sse(&job.chunk(Some(&ready), None))).is_err() {
                    hung_up = true;
                }
                !hung_up && !watcher.stopped()
            },
        );
        let (status, note) = match result
            .map_err(Failure::from)
            .and_then(|(output, notes)| Ok((take_generation(output)?, notes)))
        {
            Ok((output, notes)) if hung_up => (
                200,
                format!(
                    "client disconnected: generation stopped after {} tokens{}",
                    output.generated_tokens,
                    notes.suffix()
                ),
            ),
            Ok((output, notes)) => {
                let mut rest = watcher.finish();
                if !watcher.stopped() {
                    rest.push_str(output.text.get(watcher.text().len()..).unwrap_or(""));
                }
                if !rest.is_empty() {
                    let _ = tx.send(sse(&job.chunk(Some(&rest), None)));
                }
                let finish = if watcher.stopped() {
                    "stop"
                } else {
                    finish_reason(output.stop_reason)
                };
                let _ = tx.send(sse(&job.chunk(None, Some(finish))));
                if include_usage {
                    let mut last = job.envelope(json!([]));
                    last["usage"] =
                        json!(Usage::new(output.prompt_tokens, output.generated_tokens));
                    let _ = tx.send(sse(&last));
                }
                let _ = tx.send(hyper::body::Bytes::from_static(b"data: [DONE]\n\n"));
                (200, job_note(&output, &notes))
            }
            Err(failure) => {
                let _ = tx.send(sse(&failure.error.body()));
                (failure.error.status.as_u16(), failure.error.message)
            }
        };
        log.push(super::log::LogEntry {
            at: std::time::SystemTime::now(),
            request: request_line,
            model: Some(job.model.clone()),
            status,
            seconds: started.elapsed().as_secs_f64(),
            note: format!("streamed; {note}"),
        });
    });
    Reply {
        response: event_stream(ChannelBody(rx)),
        model: None,
        note: String::new(),
        logs_itself: true,
    }
}

fn take_generation(output: crate::infer::Output) -> Result<GenerationOutput, Failure> {
    output
        .take::<GenerationOutput>()
        .map_err(|_| ApiError::server("the model answered with something other than text").into())
}

fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Eos | StopReason::Cancelled => "stop",
        StopReason::MaxTokens | StopReason::ContextFull => "length",
    }
}

fn job_note(output: &GenerationOutput, notes: &super::pool::JobNotes) -> String {
    format!(
        "{} prompt + {} generated tokens at {:.1} tok/s{}",
        output.prompt_tokens,
        output.generated_tokens,
        output.decode_tokens_per_s,
        notes.suffix()
    )
}
