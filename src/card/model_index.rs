//! The card's `model-index` (evaluation results), flattened to one row per metric.

use serde::Serialize;

use super::lenient::{boolean, entries, map, single_text, wrong_kind};
use super::yaml::Yaml;

/// One reported metric from `model-index`, with the model, task and dataset it
/// belongs to. Anything the card leaves out is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvalResult {
    /// `name` of the model-index entry (usually the model's name).
    pub model_name: Option<String>,
    /// `task.type`, such as `automatic-speech-recognition`.
    pub task_type: Option<String>,
    /// `task.name`, such as `Automatic Speech Recognition`.
    pub task_name: Option<String>,
    /// `dataset.name`, such as `LibriSpeech (clean)`.
    pub dataset_name: Option<String>,
    /// `dataset.type` (a dataset id), such as `librispeech_asr`.
    pub dataset_type: Option<String>,
    /// `dataset.config`, such as `clean`.
    pub dataset_config: Option<String>,
    /// `dataset.split`, such as `test`.
    pub dataset_split: Option<String>,
    /// `metrics[].type`, such as `wer`.
    pub metric_type: Option<String>,
    /// `metrics[].name`, such as `Test WER`.
    pub metric_name: Option<String>,
    /// `metrics[].value` as text; numbers as written (`79.87`, `48.0`, `131`).
    pub value: Option<String>,
    /// `metrics[].verified`: whether the Hub verified the value.
    pub verified: Option<bool>,
}

/// Flattens a `model-index:` value; shapes it cannot read become warnings.
pub(crate) fn flatten_model_index(
    value: Option<&Yaml>,
    warnings: &mut Vec<String>,
) -> Vec<EvalResult> {
    let mut rows = Vec::new();
    for (model_number, model) in entries("model-index", value, warnings)
        .into_iter()
        .enumerate()
    {
        let path = format!("model-index[{model_number}]");
        if !matches!(model, Yaml::Map(_)) {
            warnings.push(wrong_kind(&path, "a map", model.kind()));
            continue;
        }
        let model_name = single_text(&format!("{path}.name"), model.get("name"), warnings);
        let results_path = format!("{path}.results");
        for (result_number, result) in entries(&results_path, model.get("results"), warnings)
            .into_iter()
            .enumerate()
        {
            let result_path = format!("{results_path}[{result_number}]");
            let context = EvalResult {
                model_name: model_name.clone(),
                ..EvalResult::default()
            };
            rows.extend(result_rows(&result_path, result, context, warnings));
        }
    }
    rows
}

/// The rows of one `results` entry: its task and dataset, once per metric.
fn result_rows(
    path: &str,
    result: &Yaml,
    context: EvalResult,
    warnings: &mut Vec<String>,
) -> Vec<EvalResult> {
    if !matches!(result, Yaml::Map(_)) {
        warnings.push(wrong_kind(path, "a map", result.kind()));
        return Vec::new();
    }
    let task_path = format!("{path}.task");
    let dataset_path = format!("{path}.dataset");
    let task = map(&task_path, result.get("task"), warnings);
    let dataset = map(&dataset_path, result.get("dataset"), warnings);
    let mut text = |parent: Option<&Yaml>, parent_path: &str, key: &str| {
        single_text(
            &format!("{parent_path}.{key}"),
            parent.and_then(|p| p.get(key)),
            warnings,
        )
    };
    let context = EvalResult {
        task_type: text(task, &task_path, "type"),
        task_name: text(task, &task_path, "name"),
        dataset_name: text(dataset, &dataset_path, "name"),
        dataset_type: text(dataset, &dataset_path, "type"),
        dataset_config: text(dataset, &dataset_path, "config"),
        dataset_split: text(dataset, &dataset_path, "split"),
        ..context
    };

    let metrics_path = format!("{path}.metrics");
    let metrics = entries(&metrics_path, result.get("metrics"), warnings);
    if metrics.is_empty() {
        warnings.push(format!("`{path}` reports no metrics; it was skipped."));
    }
    let mut rows = Vec::new();
    for (metric_number, metric) in metrics.into_iter().enumerate() {
        let metric_path = format!("{metrics_path}[{metric_number}]");
        if !matches!(metric, Yaml::Map(_)) {
            warnings.push(wrong_kind(&metric_path, "a map", metric.kind()));
            continue;
        }
        rows.push(EvalResult {
            metric_type: single_text(&format!("{metric_path}.type"), metric.get("type"), warnings),
            metric_name: single_text(&format!("{metric_path}.name"), metric.get("name"), warnings),
            value: metric_value(
                &format!("{metric_path}.value"),
                metric.get("value"),
                warnings,
            ),
            verified: boolean(
                &format!("{metric_path}.verified"),
                metric.get("verified"),
                warnings,
            ),
            ..context.clone()
        });
    }
    rows
}

/// A metric value as display text; lists and maps are warned about.
fn metric_value(path: &str, value: Option<&Yaml>, warnings: &mut Vec<String>) -> Option<String> {
    match value? {
        Yaml::Null => None,
        scalar @ (Yaml::Bool(_) | Yaml::Number(_) | Yaml::Text(_)) => scalar.scalar_text(),
        other => {
            warnings.push(wrong_kind(path, "a number or text", other.kind()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flatten(yaml: &str) -> (Vec<EvalResult>, Vec<String>) {
        let tree = Yaml::parse(yaml).unwrap_or(Yaml::Null);
        let mut warnings = Vec::new();
        let rows = flatten_model_index(tree.get("model-index"), &mut warnings);
        (rows, warnings)
    }

    #[test]
    fn flattens_every_metric() {
        let (rows, warnings) = flatten(
            "model-index:\n- name: m\n  results:\n  - task: {type: question-answering, name: QA}\n    \
             dataset: {name: SQuAD v2, type: squad_v2, config: squad_v2, split: validation}\n    \
             metrics:\n    - {type: exact_match, name: Exact Match, value: 79.87, verified: true}\n    \
             - {type: f1, value: 82.91}\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            rows[0],
            EvalResult {
                model_name: Some("m".into()),
                task_type: Some("question-answering".into()),
                task_name: Some("QA".into()),
                dataset_name: Some("SQuAD v2".into()),
                dataset_type: Some("squad_v2".into()),
                dataset_config: Some("squad_v2".into()),
                dataset_split: Some("validation".into()),
                metric_type: Some("exact_match".into()),
                metric_name: Some("Exact Match".into()),
                value: Some("79.87".into()),
                verified: Some(true),
            }
        );
        assert_eq!(rows[1].metric_type.as_deref(), Some("f1"));
        assert_eq!(rows[1].value.as_deref(), Some("82.91"));
        assert_eq!(rows[1].metric_name, None);
        assert_eq!(rows[1].verified, None);
        assert_eq!(rows[1].dataset_type.as_deref(), Some("squad_v2"));
    }

    #[test]
    fn odd_shapes_warn_but_keep_what_they_can() {
        // (YAML, rows expected, warnings expected)
        let cases: &[(&str, usize, usize)] = &[
            ("model-index: []", 0, 0),
            ("model-index: text", 0, 1),
            ("model-index: [text]", 0, 1),
            (
                "model-index:\n  name: m\n  results: [{metrics: [{value: 1}]}]",
                1,
                1,
            ),
            ("model-index: [{name: m}]", 0, 0),
            (
                "model-index: [{results: [{task: qa, metrics: [{value: 1}]}]}]",
                1,
                1,
            ),
            ("model-index: [{results: [{metrics: []}]}]", 0, 1),
            (
                "model-index: [{results: [{metrics: [5, {value: [1]}]}]}]",
                1,
                2,
            ),
            (
                "model-index: [{results: [{metrics: [{value: 48.0, verified: maybe}]}]}]",
                1,
                1,
            ),
            (
                "model-index: [{results: [{metrics: [{value: '53.7%', verified: 'false'}]}]}]",
                1,
                0,
            ),
        ];
        for (yaml, row_count, warning_count) in cases {
            let (rows, warnings) = flatten(yaml);
            assert_eq!(rows.len(), *row_count, "{yaml}: {rows:?}");
            assert_eq!(warnings.len(), *warning_count, "{yaml}: {warnings:?}");
        }
        let (rows, _) =
            flatten("model-index: [{results: [{metrics: [{value: 48.0}, {value: '53.7%'}]}]}]");
        let values: Vec<_> = rows.iter().map(|row| row.value.as_deref()).collect();
        assert_eq!(values, [Some("48.0"), Some("53.7%")]);
    }
}
