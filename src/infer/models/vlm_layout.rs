//! Where a vision-language checkpoint keeps its parts: llava-hf's and google's names
//! (`vision_tower.vision_model.*`, `multi_modal_projector.*`, `language_model.model.*`,
//! `language_model.lm_head`) or transformers 5's (`model.vision_tower.*`,
//! `model.multi_modal_projector.*`, `model.language_model.*`, `lm_head`).

use candle_nn::VarBuilder;

/// The weight-name prefixes of each part.
pub struct VlmLayout {
    /// The vision tower.
    pub vision: &'static str,
    /// The projector into the language model.
    pub projector: &'static str,
    /// The language model's body.
    pub decoder: &'static str,
    /// The language model's head (empty when the checkpoint ties it to the embeddings).
    pub head: &'static str,
}

impl VlmLayout {
    /// Finds the parts in `vb`; the projector is recognised by its tensor `projector_leaf`
    /// (`linear_1.weight` for LLaVA, `linear.weight` for PaliGemma).
    pub fn detect(vb: &VarBuilder, projector_leaf: &str) -> Result<VlmLayout, String> {
        let find = |candidates: &[&'static str], leaf: &str| {
            candidates
                .iter()
                .copied()
                .find(|p| vb.contains_tensor(&format!("{p}.{leaf}")))
        };
        let vision = find(
            &[
                "vision_tower.vision_model",
                "vision_tower",
                "model.vision_tower.vision_model",
                "model.vision_tower",
            ],
            "embeddings.patch_embedding.weight",
        )
        .ok_or("no vision tower weights (vision_tower.*)")?;
        let projector = find(
            &["multi_modal_projector", "model.multi_modal_projector"],
            projector_leaf,
        )
        .ok_or_else(|| format!("no projector weights (multi_modal_projector.{projector_leaf})"))?;
        let decoder = find(
            &["language_model.model", "model.language_model"],
            "embed_tokens.weight",
        )
        .ok_or("no language model weights (language_model.model.*)")?;
        let head = find(&["language_model.lm_head", "lm_head"], "weight").unwrap_or("");
        Ok(VlmLayout {
            vision,
            projector,
            decoder,
            head,
        })
    }
}
