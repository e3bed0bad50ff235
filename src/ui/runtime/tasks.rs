//! The Hub's tasks (`pipeline_tag` values), grouped as the Hub's model search groups them.

/// (group, tasks) in the Hub's order.
pub const TASK_GROUPS: &[(&str, &[&str])] = &[
    (
        "Multimodal",
        &[
            "audio-text-to-text",
            "image-text-to-text",
            "visual-question-answering",
            "document-question-answering",
            "video-text-to-text",
            "visual-document-retrieval",
            "any-to-any",
        ],
    ),
    (
        "Computer Vision",
        &[
            "depth-estimation",
            "image-classification",
            "object-detection",
            "image-segmentation",
            "text-to-image",
            "image-to-text",
            "image-to-image",
            "image-to-video",
            "unconditional-image-generation",
            "video-classification",
            "text-to-video",
            "zero-shot-image-classification",
            "mask-generation",
            "zero-shot-object-detection",
            "text-to-3d",
            "image-to-3d",
            "image-feature-extraction",
            "keypoint-detection",
            "video-to-video",
        ],
    ),
    (
        "Natural Language Processing",
        &[
            "text-classification",
            "token-classification",
            "table-question-answering",
            "question-answering",
            "zero-shot-classification",
            "translation",
            "summarization",
            "feature-extraction",
            "text-generation",
            "fill-mask",
            "sentence-similarity",
            "text-ranking",
        ],
    ),
    (
        "Audio",
        &[
            "text-to-speech",
            "text-to-audio",
            "automatic-speech-recognition",
            "audio-to-audio",
            "audio-classification",
            "voice-activity-detection",
        ],
    ),
    (
        "Tabular",
        &[
            "tabular-classification",
            "tabular-regression",
            "time-series-forecasting",
        ],
    ),
    (
        "Reinforcement Learning",
        &["reinforcement-learning", "robotics"],
    ),
    ("Other", &["graph-ml"]),
];

/// A task's name for people: `text-generation` → `Text Generation`, `text-to-3d` → `Text To 3D`.
pub fn task_label(tag: &str) -> String {
    tag.split('-')
        .map(|word| match word {
            "3d" => "3D".to_string(),
            "ml" => "ML".to_string(),
            _ => {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_groups() {
        assert_eq!(task_label("text-generation"), "Text Generation");
        assert_eq!(task_label("image-to-3d"), "Image To 3D");
        assert_eq!(task_label("graph-ml"), "Graph ML");
        let all: Vec<&str> = TASK_GROUPS
            .iter()
            .flat_map(|(_, t)| t.iter().copied())
            .collect();
        let unique: std::collections::BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(all.len(), unique.len(), "a task is listed twice");
        assert_eq!(TASK_GROUPS.len(), 7);
    }
}
