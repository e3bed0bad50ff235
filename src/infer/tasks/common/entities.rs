//! Token labels → entities, like transformers' token-classification pipeline with
//! `aggregation_strategy="simple"`: `B-X` starts an entity of type X, `I-X` continues one of the
//! same type (or starts one), `O` ends it; a label without a prefix is its own type.

use serde::Serialize;

/// One token with its best label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenLabel {
    /// The token as the tokenizer writes it (`##ing`, `Ġword`).
    pub token: String,
    /// The best label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// Byte offset of the token's start in the text.
    pub start: usize,
    /// Byte offset of its end.
    pub end: usize,
    /// Which word of the text the token belongs to.
    pub word: Option<u32>,
}

/// Consecutive tokens of one entity type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// The type (`PER`, `LOC`, …).
    pub group: String,
    /// The text it covers.
    pub word: String,
    /// The mean probability of its tokens.
    pub score: f32,
    /// Byte offset of its start in the text.
    pub start: usize,
    /// Byte offset of its end.
    pub end: usize,
}

/// Groups labelled tokens into entities; `O` tokens belong to none.
pub fn group_entities(text: &str, tokens: &[TokenLabel]) -> Vec<Entity> {
    let mut entities: Vec<Entity> = Vec::new();
    let mut scores: Vec<f32> = Vec::new();
    let mut previous_word = None;
    for token in tokens {
        let (begins, group) = match token.label.split_once('-') {
            Some(("B", group)) => (true, group),
            Some(("I", group)) => (false, group),
            _ if token.label == "O" => {
                close(&mut entities, &mut scores);
                previous_word = None;
                continue;
            }
            _ => (false, token.label.as_str()),
        };
        // A sub-word of the word just seen always continues it.
        let same_word = token.word.is_some() && token.word == previous_word;
        previous_word = token.word;
        let continues = entities
            .last()
            .is_some_and(|e| e.group == group && scores.last().is_some() && (same_word || !begins));
        if continues {
            let entity = entities.last_mut().expect("checked above");
            entity.end = token.end;
            entity.word = slice(text, entity.start, entity.end);
            scores.push(token.score);
        } else {
            close(&mut entities, &mut scores);
            entities.push(Entity {
                group: group.to_string(),
                word: slice(text, token.start, token.end),
                score: 0.0,
                start: token.start,
                end: token.end,
            });
            scores.push(token.score);
        }
    }
    close(&mut entities, &mut scores);
    entities
}

/// Sets the open entity's score to its tokens' mean and starts collecting anew.
fn close(entities: &mut [Entity], scores: &mut Vec<f32>) {
    if let (Some(entity), false) = (entities.last_mut(), scores.is_empty()) {
        entity.score = scores.iter().sum::<f32>() / scores.len() as f32;
    }
    scores.clear();
}

fn slice(text: &str, start: usize, end: usize) -> String {
    text.get(start..end).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, piece: &str, label: &str, score: f32, word: u32) -> TokenLabel {
        let start = text.find(piece).unwrap();
        TokenLabel {
            token: piece.into(),
            label: label.into(),
            score,
            start,
            end: start + piece.len(),
            word: Some(word),
        }
    }

    #[test]
    fn b_and_i_tags_merge_into_entities_with_mean_scores() {
        let text = "Sarah Connor lives in Los Angeles";
        let tokens = [
            token(text, "Sarah", "B-PER", 0.9, 0),
            token(text, "Connor", "I-PER", 0.7, 1),
            token(text, "lives", "O", 0.99, 2),
            token(text, "in", "O", 0.99, 3),
            token(text, "Los", "B-LOC", 0.8, 4),
            token(text, "Angeles", "I-LOC", 0.6, 5),
        ];
        let entities = group_entities(text, &tokens);
        assert_eq!(entities.len(), 2);
        assert_eq!(entities[0].group, "PER");
        assert_eq!(entities[0].word, "Sarah Connor");
        assert!((entities[0].score - 0.8).abs() < 1e-6);
        assert_eq!(entities[1].word, "Los Angeles");
        assert_eq!((entities[1].start, entities[1].end), (22, 33));
    }

    #[test]
    fn a_new_b_tag_splits_and_subwords_continue_their_word() {
        let text = "Paris Berlin";
        let tokens = [
            token(text, "Paris", "B-LOC", 0.9, 0),
            token(text, "Berlin", "B-LOC", 0.9, 1),
        ];
        assert_eq!(group_entities(text, &tokens).len(), 2);
        let text = "Washington";
        let mut first = token(text, "Wash", "B-LOC", 0.9, 0);
        let mut second = token(text, "ington", "B-LOC", 0.5, 0);
        (first.start, first.end, second.start, second.end) = (0, 4, 4, 10);
        let merged = group_entities(text, &[first, second]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].word, "Washington");
    }

    #[test]
    fn unprefixed_labels_and_bad_offsets_do_not_panic() {
        let text = "abc";
        let tokens = [TokenLabel {
            token: "abc".into(),
            label: "MISC".into(),
            score: 1.0,
            start: 0,
            end: 99,
            word: None,
        }];
        let entities = group_entities(text, &tokens);
        assert_eq!(entities[0].group, "MISC");
        assert_eq!(entities[0].word, "");
    }
}
