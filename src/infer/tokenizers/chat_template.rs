//! Chat templates (Jinja, from tokenizer_config.json or the GGUF's `tokenizer.chat_template`)
//! rendered with minijinja the way transformers renders them: `trim_blocks` and `lstrip_blocks`,
//! `messages`, `add_generation_prompt`, `bos_token`/`eos_token`, `raise_exception(...)`,
//! `strftime_now(...)` and Python string methods (`.strip()`, `.startswith()`, ...).
//! transformers' `{% generation %}…{% endgeneration %}` blocks (which only mark the assistant's
//! text for training masks) render their content, as there. Vision-language templates take
//! messages whose content is a list of parts (`{"type": "image"}`, `{"type": "text", ...}`):
//! [`ChatTemplate::render_json`].

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
        env.add_template_owned("chat", without_generation_tags(source))
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
        self.render_value(
            minijinja::Value::from_serialize(messages),
            add_generation_prompt,
        )
    }

    /// Renders messages of any shape (a JSON list of `{"role", "content"}` whose content may be
    /// a list of typed parts, as vision-language processors pass them).
    pub fn render_json(
        &self,
        messages: &serde_json::Value,
        add_generation_prompt: bool,
    ) -> Result<String, InferError> {
        self.render_value(
            minijinja::Value::from_serialize(messages),
            add_generation_prompt,
        )
    }

    fn render_value(
        &self,
        messages: minijinja::Value,
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

/// `source` with transformers' `{% generation %}` / `{% endgeneration %}` tags (a Jinja
/// extension minijinja lacks) turned into `{% if true %}` / `{% endif %}`, keeping their
/// whitespace control, so the block renders its content as transformers renders it.
fn without_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find("%}") else {
            break;
        };
        let inner = &tag[2..end];
        let (open, body) = match inner.strip_prefix(['-', '+']) {
            Some(body) => (&inner[..1], body),
            None => ("", inner),
        };
        let (body, close) = match body.strip_suffix(['-', '+']) {
            Some(body) => (body, &inner[inner.len() - 1..]),
            None => (body, ""),
        };
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(word) => out.push_str(&format!("{{%{open} {word} {close}%}}")),
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
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
    fn generation_blocks_render_their_content_and_parts_lists_render() {
        // llava-hf/llava-1.5-7b-hf's template.
        let llava = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
        let t = ChatTemplate::new(llava, "<s>", "</s>").unwrap();
        let messages = serde_json::json!([
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
            {"role": "user", "content": [{"type": "text", "text": "Its colour?"}]},
        ]);
        assert_eq!(
            t.render_json(&messages, true).unwrap(),
            "USER: <image>\nWhat is it? ASSISTANT: A cat. USER: Its colour? ASSISTANT:"
        );
        assert_eq!(
            without_generation_tags("a{%- generation +%}b{%endgeneration%}c{% if x %}"),
            "a{%- if true +%}b{% endif %}c{% if x %}"
        );
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
