//! Chat templates (Jinja, from tokenizer_config.json or the GGUF's `tokenizer.chat_template`)
//! rendered with minijinja the way transformers renders them: `trim_blocks` and `lstrip_blocks`,
//! `messages`, `add_generation_prompt`, `bos_token`/`eos_token`, `raise_exception(...)`,
//! `strftime_now(...)` and Python string methods (`.strip()`, `.startswith()`, ...).

use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;

use crate::infer::InferError;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template with its special tokens.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source`; fails on a syntax error.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate, InferError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_function("strftime_now", |format: String| -> String {
            chrono::Local::now().format(&format).to_string()
        });
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| InferError::Template(describe(&e)))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        })
    }

    /// Renders the conversation; `add_generation_prompt` opens the assistant's turn.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, InferError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| InferError::Template(describe(&e)))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| InferError::Template(describe(&e)))
    }
}

/// The chat template in a tokenizer_config.json value: a string, or a list of named templates
/// (the one named `default` is used).
pub fn from_tokenizer_config(config: &serde_json::Value) -> Option<String> {
    match config.get("chat_template")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => items
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .or_else(|| items.first())
            .and_then(|t| t.get("template"))
            .and_then(|t| t.as_str())
            .map(String::from),
        _ => None,
    }
}

/// A special token in tokenizer_config.json: a string or an `AddedToken` object.
pub fn special_token(config: &serde_json::Value, key: &str) -> Option<String> {
    match config.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => other
            .get("content")
            .and_then(|c| c.as_str())
            .map(String::from),
    }
}

fn describe(e: &Error) -> String {
    // `raise_exception("...")` surfaces as the template's own message.
    match e.detail() {
        Some(detail) if e.kind() == ErrorKind::InvalidOperation => detail.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_a_default_system_prompt() {
        let t = ChatTemplate::new(CHATML, "", "<|im_end|>").unwrap();
        let text = t.render(&[ChatMessage::new("user", "Hi")], true).unwrap();
        assert_eq!(
            text,
            "<|im_start|>system\nYou are helpful<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn bos_token_block_trimming_python_methods_and_raise_exception() {
        let source = "{{ bos_token }}\n{% for m in messages %}\n    {% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\n{{ '[' + m.role.upper() + '] ' + m.content.strip() }}\n{% endfor %}";
        let t = ChatTemplate::new(source, "<s>", "</s>").unwrap();
        let text = t
            .render(&[ChatMessage::new("user", "  hello  ")], false)
            .unwrap();
        assert_eq!(text, "<s>\n[USER] hello\n");
        let err = t
            .render(&[ChatMessage::new("system", "x")], false)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "chat template: System role not supported");
        assert!(ChatTemplate::new("{% if %}", "", "").is_err());
    }

    #[test]
    fn finds_templates_and_tokens_in_tokenizer_config() {
        let config = serde_json::json!({
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}],
            "bos_token": {"content": "<s>", "lstrip": false},
            "eos_token": "</s>",
        });
        assert_eq!(from_tokenizer_config(&config).as_deref(), Some("D"));
        assert_eq!(special_token(&config, "bos_token").as_deref(), Some("<s>"));
        assert_eq!(special_token(&config, "eos_token").as_deref(), Some("</s>"));
        assert_eq!(special_token(&config, "pad_token"), None);
    }
}
