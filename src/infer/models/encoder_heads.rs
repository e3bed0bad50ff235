//! The task heads on top of an [`Encoder`]'s hidden states, with transformers' weight names:
//! sequence classification (first token → pooler/pre-classifier → labels), token
//! classification (every token → labels) and the masked-LM head (tied to the word embeddings).

use candle_core::{D, Module, Tensor};
use candle_nn::{Activation, LayerNorm, VarBuilder, layer_norm};

use super::elementwise::gelu_erf;
use super::linear::{Linear, linear};
use crate::infer::InferError;
use crate::infer::models::encoder::{Encoder, Family, config_usize};

/// The activation after a sequence head's dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreActivation {
    /// BERT's pooler, RoBERTa's classification head.
    Tanh,
    /// DistilBERT's pre-classifier.
    Relu,
    /// DeBERTa's context pooler (exact GELU).
    Gelu,
}

/// Which head a checkpoint is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// One label distribution per text.
    Sequence,
    /// One label distribution per token.
    Token,
    /// Vocabulary logits per token.
    MaskedLm,
}

/// A loaded head.
pub enum Head {
    /// `[CLS]` → optional dense + activation → classifier.
    Sequence {
        /// The dense layer before the classifier and its activation.
        pre: Option<(Linear, PreActivation)>,
        /// hidden → labels.
        classifier: Linear,
    },
    /// hidden → labels for every token.
    Token(Linear),
    /// dense → GELU → LayerNorm → word embeddingsᵀ + bias.
    MaskedLm {
        /// The transform's dense layer.
        dense: Linear,
        /// The transform's norm.
        norm: LayerNorm,
        /// The tied word embeddings `(vocab, hidden)`.
        embeddings: Tensor,
        /// The output bias `(vocab)`.
        bias: Tensor,
    },
}

impl Head {
    /// Loads the head of `kind` from the encoder's checkpoint.
    pub fn load(encoder: &Encoder, kind: HeadKind) -> Result<Head, InferError> {
        let vb = &encoder.weights;
        let hidden = encoder.hidden_size;
        let missing = |what: &str| {
            InferError::Model(format!(
                "this checkpoint has no {what} head weights; it was not fine-tuned for this task"
            ))
        };
        match kind {
            HeadKind::Sequence => {
                let labels = label_count(vb, "classifier")
                    .or_else(|| label_count(vb, "classifier.out_proj"))
                    .ok_or_else(|| missing("classification"))?;
                Ok(match encoder.family {
                    Family::Bert => Head::Sequence {
                        pre: linear(hidden, hidden, vb.pp("bert.pooler.dense"))
                            .ok()
                            .map(|l| (l, PreActivation::Tanh)),
                        classifier: linear(hidden, labels, vb.pp("classifier"))?,
                    },
                    Family::DistilBert => Head::Sequence {
                        pre: Some((
                            linear(hidden, hidden, vb.pp("pre_classifier"))?,
                            PreActivation::Relu,
                        )),
                        classifier: linear(hidden, labels, vb.pp("classifier"))?,
                    },
                    Family::Roberta => Head::Sequence {
                        pre: Some((
                            linear(hidden, hidden, vb.pp("classifier.dense"))?,
                            PreActivation::Tanh,
                        )),
                        classifier: linear(hidden, labels, vb.pp("classifier.out_proj"))?,
                    },
                    Family::DebertaV2 => Head::Sequence {
                        pre: Some((
                            linear(hidden, hidden, vb.pp("pooler.dense"))?,
                            PreActivation::Gelu,
                        )),
                        classifier: linear(hidden, labels, vb.pp("classifier"))?,
                    },
                })
            }
            HeadKind::Token => {
                let labels =
                    label_count(vb, "classifier").ok_or_else(|| missing("token classification"))?;
                Ok(Head::Token(linear(hidden, labels, vb.pp("classifier"))?))
            }
            HeadKind::MaskedLm => {
                let (dense, norm, bias) = match encoder.family {
                    Family::Bert => (
                        "cls.predictions.transform.dense",
                        "cls.predictions.transform.LayerNorm",
                        "cls.predictions.bias",
                    ),
                    Family::DistilBert => (
                        "vocab_transform",
                        "vocab_layer_norm",
                        "vocab_projector.bias",
                    ),
                    Family::Roberta => ("lm_head.dense", "lm_head.layer_norm", "lm_head.bias"),
                    Family::DebertaV2 => {
                        return Err(missing("masked-LM (DeBERTa's is not supported yet)"));
                    }
                };
                if !vb.contains_tensor(bias) {
                    return Err(missing("masked-LM"));
                }
                let eps = encoder
                    .config
                    .get("layer_norm_eps")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(1e-12);
                let vocab = config_usize(&encoder.config, "vocab_size")
                    .ok_or_else(|| InferError::Model("config.json has no vocab_size".into()))?;
                let embeddings = vb.get(
                    (vocab, hidden),
                    &format!(
                        "{}.embeddings.word_embeddings.weight",
                        encoder.family.prefix()
                    ),
                )?;
                Ok(Head::MaskedLm {
                    dense: linear(hidden, hidden, vb.pp(dense))?,
                    norm: layer_norm(hidden, eps, vb.pp(norm))?,
                    embeddings,
                    bias: vb.get(vocab, bias)?,
                })
            }
        }
    }

    /// The head's logits for one text's hidden states `(tokens, hidden)`: `(labels)` for a
    /// sequence head, `(tokens, labels)` or `(tokens, vocab)` otherwise.
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor, InferError> {
        Ok(match self {
            Head::Sequence { pre, classifier } => {
                let mut x = hidden.narrow(0, 0, 1)?;
                if let Some((dense, activation)) = pre {
                    x = dense.forward(&x)?;
                    x = match activation {
                        PreActivation::Tanh => x.tanh()?,
                        PreActivation::Relu => x.relu()?,
                        PreActivation::Gelu => gelu_erf(&x)?,
                    };
                }
                classifier.forward(&x)?.squeeze(0)?
            }
            Head::Token(classifier) => classifier.forward(hidden)?,
            Head::MaskedLm {
                dense,
                norm,
                embeddings,
                bias,
            } => {
                let x = norm.forward(&dense.forward_activated(hidden, Activation::Gelu)?)?;
                x.matmul(&embeddings.t()?)?.broadcast_add(bias)?
            }
        })
    }

    /// The number of outputs per position.
    pub fn outputs(&self) -> Result<usize, InferError> {
        Ok(match self {
            Head::Sequence { classifier, .. } | Head::Token(classifier) => {
                classifier.out_features()?
            }
            Head::MaskedLm { bias, .. } => bias.dim(D::Minus1)?,
        })
    }
}

/// The number of labels of a classifier layer, from its bias.
fn label_count(vb: &VarBuilder<'static>, layer: &str) -> Option<usize> {
    let name = format!("{layer}.bias");
    if !vb.contains_tensor(&name) {
        return None;
    }
    // The shape is read from the checkpoint: ask for a rank-1 tensor of any length.
    vb.get_unchecked(&name).ok().and_then(|t| t.dims1().ok())
}
