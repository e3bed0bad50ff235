//! `hubble remote-chat` (a chat completion streamed to stdout) and `hubble remote --task …`
//! (text classification, image classification, speech recognition), run by the Hub's inference
//! router with your token. Labelled remote on stderr, so nobody mistakes it for local.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::print_json;
use crate::hub::{HubClient, HubError, RepoId};
use crate::remote::tasks::{hf_inference_base, read_input_file};
use crate::remote::{ChatMessage, ChatRequest, RemoteInput, RemoteOutput, RemoteTask};

/// Arguments of `hubble remote-chat`.
#[derive(Debug, Args)]
pub struct RemoteChatArgs {
    /// Model id, e.g. meta-llama/Llama-3.1-8B-Instruct.
    pub repo: RepoId,
    /// The user message.
    #[arg(long)]
    pub input: String,
    /// A system message first.
    #[arg(long)]
    pub system: Option<String>,
    /// Longest answer, in tokens.
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Print JSON (text, finish_reason, model, chunks, router) at the end instead of streaming.
    #[arg(long)]
    pub json: bool,
}

/// `hubble remote-chat --json` output.
#[derive(Debug, serde::Serialize)]
struct ChatOutput {
    #[serde(flatten)]
    reply: crate::remote::ChatReply,
    /// Where it ran.
    router: String,
    /// Always true: the text came from the router, not from this machine.
    remote: bool,
}

/// Says on stderr that `what` runs on `router`, with or without the token.
fn notice(client: &HubClient, what: &str, router: &str) {
    let with_token = if client.config().token.is_some() {
        "with your token"
    } else {
        "without a token (the router will likely refuse: set HF_TOKEN or `hf auth login`)"
    };
    eprintln!("Remote inference: {what} runs on {router}, {with_token}.");
}

/// Runs `hubble remote-chat`.
pub async fn run(client: &HubClient, args: RemoteChatArgs) -> Result<(), HubError> {
    let router = client.config().router_endpoint.clone();
    notice(client, args.repo.as_str(), &router);
    let mut messages = Vec::new();
    if let Some(system) = args.system {
        messages.push(ChatMessage {
            role: "system".into(),
            content: system,
        });
    }
    messages.push(ChatMessage {
        role: "user".into(),
        content: args.input,
    });
    let request = ChatRequest {
        model: args.repo.to_string(),
        messages,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
    };
    let json = args.json;
    let mut stdout = std::io::stdout();
    let reply = client
        .remote_chat(&request, |piece| {
            if !json {
                // A closed stdout (`| head`) only stops the echo, not the request.
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
            }
        })
        .await?;
    if json {
        return print_json(&ChatOutput {
            reply,
            router,
            remote: true,
        });
    }
    println!();
    Ok(())
}

/// Arguments of `hubble remote`.
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// Model id, e.g. distilbert/distilbert-base-uncased-finetuned-sst-2-english.
    pub repo: RepoId,
    /// text-classification, image-classification or automatic-speech-recognition.
    #[arg(long, value_parser = parse_task)]
    pub task: RemoteTask,
    /// The text to classify (text-classification).
    #[arg(long, conflicts_with = "input_file")]
    pub input: Option<String>,
    /// The image or audio file to send (image-classification, automatic-speech-recognition).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
    /// Print JSON (labels, or text and chunks, with model, task, router) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_task(text: &str) -> Result<RemoteTask, String> {
    RemoteTask::from_pipeline_tag(text).ok_or_else(|| {
        let all: Vec<&str> = RemoteTask::ALL.iter().map(|t| t.pipeline_tag()).collect();
        format!("unknown task {text:?}; use one of {}", all.join(", "))
    })
}

/// `hubble remote --json` output.
#[derive(Debug, serde::Serialize)]
struct TaskOutput {
    model: String,
    task: RemoteTask,
    #[serde(flatten)]
    output: RemoteOutput,
    /// Where it ran.
    router: String,
    /// Always true: the result came from the router, not from this machine.
    remote: bool,
}

/// Runs `hubble remote`.
pub async fn run_task(client: &HubClient, args: RemoteArgs) -> Result<(), HubError> {
    let input = match (args.task.takes_text(), args.input, args.input_file) {
        (true, Some(text), None) => RemoteInput::Text(text),
        (false, None, Some(path)) => read_input_file(args.task, &path).await?,
        (true, ..) => {
            return Err(HubError::InvalidInput(format!(
                "{} takes --input TEXT.",
                args.task
            )));
        }
        (false, ..) => {
            return Err(HubError::InvalidInput(format!(
                "{} takes --input-file FILE ({}).",
                args.task,
                args.task.file_kind().unwrap_or("a file")
            )));
        }
    };
    let router = hf_inference_base(&client.config().router_endpoint);
    notice(client, &format!("{} ({})", args.repo, args.task), &router);
    let output = client.remote_task(&args.repo, args.task, input).await?;
    if args.json {
        return print_json(&TaskOutput {
            model: args.repo.to_string(),
            task: args.task,
            output,
            router,
            remote: true,
        });
    }
    match output {
        RemoteOutput::Labels { labels } => {
            for label in labels {
                println!("{:6.1}%  {}", label.score * 100.0, label.label);
            }
        }
        RemoteOutput::Transcript(transcript) => println!("{}", transcript.text.trim()),
    }
    Ok(())
}
