//! Writes a tiny Hugging Face checkpoint (`config.json` + `model.safetensors`) as an F32 GGUF
//! the way llama.cpp's `convert_hf_to_gguf.py` lays one out: its tensor names and metadata
//! keys, llama's query/key rows permuted for the interleaved rotary embedding, Gemma's RMS-norm
//! weights stored as `1 + w`. Unquantised, so the GGUF code paths can be held to the PyTorch
//! references of the same weights.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// Writes `dir`'s checkpoint to `out` as a GGUF, with `dir`'s tokenizer.json copied beside it.
pub fn convert(dir: &Path, out: &Path) {
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let model_type = config["model_type"].as_str().unwrap();
    let arch = match model_type {
        "gemma3_text" => "gemma3",
        other => other,
    };
    let int = |key: &str| config[key].as_u64().unwrap() as u32;
    let heads = int("num_attention_heads");
    let kv_heads = int("num_key_value_heads");
    let hidden = int("hidden_size");
    let head_dim = config["head_dim"]
        .as_u64()
        .map_or(hidden / heads, |d| d as u32);

    let mut metadata = vec![
        ("general.architecture".to_string(), text(arch)),
        // Read by candle's qwen3: 0 computes in F32 (the default is F16).
        ("general.dtype".to_string(), Value::U32(0)),
        // The tokenizer is the tokenizer.json beside the file; the model key must still be there.
        ("tokenizer.ggml.model".to_string(), text("gpt2")),
    ];
    let mut key = |name: &str, value: Value| metadata.push((format!("{arch}.{name}"), value));
    key("block_count", Value::U32(int("num_hidden_layers")));
    key("embedding_length", Value::U32(hidden));
    key("feed_forward_length", Value::U32(int("intermediate_size")));
    key("context_length", Value::U32(int("max_position_embeddings")));
    key("attention.head_count", Value::U32(heads));
    key("attention.head_count_kv", Value::U32(kv_heads));
    key("attention.key_length", Value::U32(head_dim));
    key("attention.value_length", Value::U32(head_dim));
    key("rope.dimension_count", Value::U32(head_dim));
    key(
        "attention.layer_norm_rms_epsilon",
        Value::F32(config["rms_norm_eps"].as_f64().unwrap() as f32),
    );
    let rope = &config["rope_parameters"];
    if arch == "gemma3" {
        let theta = |kind: &str| Value::F32(rope[kind]["rope_theta"].as_f64().unwrap() as f32);
        key("rope.freq_base", theta("full_attention"));
        key("rope.local_freq_base", theta("sliding_attention"));
        key(
            "attention.sliding_window",
            Value::U32(int("sliding_window")),
        );
        let layers = config["layer_types"].as_array().unwrap();
        let flags = layers
            .iter()
            .map(|t| Value::Bool(t == "sliding_attention"))
            .collect();
        key("attention.sliding_window_pattern", Value::Array(flags));
    } else {
        key(
            "rope.freq_base",
            Value::F32(rope["rope_theta"].as_f64().unwrap() as f32),
        );
    }

    let weights =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for (name, tensor) in weights {
        let gguf = gguf_name(&name, arch);
        let tensor = match (arch, gguf.as_str()) {
            ("llama", n) if n.ends_with("attn_q.weight") => permute_rows(&tensor, heads),
            ("llama", n) if n.ends_with("attn_k.weight") => permute_rows(&tensor, kv_heads),
            ("gemma3", n) if n.ends_with("norm.weight") => (tensor + 1.0).unwrap(),
            _ => tensor,
        };
        tensors.push((gguf, QTensor::quantize(&tensor, GgmlDType::F32).unwrap()));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));

    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut file = std::fs::File::create(out).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
    let beside = out.parent().unwrap().join("tokenizer.json");
    std::fs::copy(dir.join("tokenizer.json"), beside).unwrap();
}

fn text(s: &str) -> Value {
    Value::String(s.to_string())
}

/// llama.cpp's name for a Hugging Face tensor name.
fn gguf_name(name: &str, arch: &str) -> String {
    match name {
        "model.embed_tokens.weight" => return "token_embd.weight".into(),
        "model.norm.weight" => return "output_norm.weight".into(),
        "lm_head.weight" => return "output.weight".into(),
        _ => {}
    }
    let rest = name
        .strip_prefix("model.layers.")
        .unwrap_or_else(|| panic!("no GGUF name for {name}"));
    let (layer, rest) = rest.split_once('.').unwrap();
    let (module, kind) = rest.rsplit_once('.').unwrap();
    let gguf = match module {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" if arch == "gemma3" => "post_attention_norm",
        "post_attention_layernorm" | "pre_feedforward_layernorm" => "ffn_norm",
        "post_feedforward_layernorm" => "post_ffw_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.qkv_proj" => "attn_qkv",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" | "mlp.gate_up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        other => panic!("no GGUF name for {other} ({name})"),
    };
    format!("blk.{layer}.{gguf}.{kind}")
}

/// llama.cpp's `permute`: each head's rows go from halves (`x0..x(d/2), y0..`) to pairs, as the
/// interleaved rotary embedding of GGUF llamas expects.
fn permute_rows(weight: &Tensor, heads: u32) -> Tensor {
    let (rows, cols) = weight.dims2().unwrap();
    let heads = heads as usize;
    weight
        .reshape((heads, 2, rows / heads / 2, cols))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((rows, cols))
        .unwrap()
}
