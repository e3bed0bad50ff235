//! The config.json defaults of a ViT-base encoder (transformers' `ViTConfig`), which the
//! ViT-shaped models read with serde: YOLOS and the Audio Spectrogram Transformer.

use candle_nn::Activation;

/// `hidden_size`.
pub fn hidden() -> usize {
    768
}

/// `num_hidden_layers` and `num_attention_heads`.
pub fn twelve() -> usize {
    12
}

/// `intermediate_size`.
pub fn intermediate() -> usize {
    3072
}

/// `hidden_act`.
pub fn gelu() -> Activation {
    Activation::Gelu
}

/// `layer_norm_eps`.
pub fn eps() -> f64 {
    1e-12
}
