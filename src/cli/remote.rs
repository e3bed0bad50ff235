//! `hubble remote-chat`: a chat completion run by the Hub's inference router (remote, with your
//! token), streamed to stdout. Labelled remote on stderr, so nobody mistakes it for local.

use std::io::Write;

use clap::Args;

use super::print_json;
use crate::hub::{HubClient, HubError, RepoId};
use crate::remote::{ChatMessage, ChatRequest};

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
struct RemoteOutput {
    #[serde(flatten)]
    reply: crate::remote::ChatReply,
    /// Where it ran.
    router: String,
    /// Always true: the text came from the router, not from this machine.
    remote: bool,
}

/// Runs `hubble remote-chat`.
pub async fn run(client: &HubClient, args: RemoteChatArgs) -> Result<(), HubError> {
    let router = client.config().router_endpoint.clone();
    let with_token = if client.config().token.is_some() {
        "with your token"
    } else {
        "without a token (the router will likely refuse: set HF_TOKEN or `hf auth login`)"
    };
    eprintln!(
        "Remote inference: {} runs on {router}, {with_token}.",
        args.repo
    );
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
        return print_json(&RemoteOutput {
            reply,
            router,
            remote: true,
        });
    }
    println!();
    Ok(())
}
