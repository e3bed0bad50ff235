//! Typed, leniently read model-card metadata (the YAML front matter).

use std::collections::HashSet;

use serde::Serialize;

use super::lenient::{bool_word, entries, map, single_text, text_list, wrong_kind};
use super::model_index::{EvalResult, flatten_model_index};
use super::yaml::Yaml;

/// The metadata a model card declares in its front matter.
///
/// Every field is optional; a field of the wrong type is left empty and
/// reported as a warning by [`CardMetadata::from_yaml`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CardMetadata {
    /// `license:` — a Hub license id such as `apache-2.0` or `other`, as written.
    pub license: Option<String>,
    /// `license_name:` — the license's short name when `license` is `other`.
    pub license_name: Option<String>,
    /// `license_link:` — where the license text is; may be relative (`LICENSE`).
    pub license_link: Option<String>,
    /// `pipeline_tag:` — the task, such as `text-generation`.
    pub pipeline_tag: Option<String>,
    /// `library_name:` — the library that loads the model, such as `transformers`.
    pub library_name: Option<String>,
    /// `tags:`.
    pub tags: Vec<String>,
    /// `datasets:` — ids of the datasets the model was trained on.
    pub datasets: Vec<String>,
    /// `language:` — language codes (or names); one value is a one-entry list.
    pub language: Vec<String>,
    /// `base_model:` — ids of the models this one derives from.
    pub base_model: Vec<String>,
    /// `base_model_relation:` — how it derives (`finetune`, `quantized`, `adapter`, `merge`).
    pub base_model_relation: Option<String>,
    /// `inference:` — whether the hosted inference widget is on, and its settings.
    pub inference: Option<Inference>,
    /// Whether the card defines `widget:` examples.
    pub has_widget: bool,
    /// `extra_gated_prompt:` — text shown before access to a gated model is requested.
    pub extra_gated_prompt: Option<String>,
    /// `extra_gated_heading:` — heading of the access-request form.
    pub extra_gated_heading: Option<String>,
    /// `extra_gated_description:` — description on the access-request form.
    pub extra_gated_description: Option<String>,
    /// `extra_gated_button_content:` — label of the access-request button.
    pub extra_gated_button_content: Option<String>,
    /// `extra_gated_fields:` — the access-request form as (label, field description)
    /// pairs in card order, e.g. `("Country", "country")` or
    /// `("Intended use", "select: Research, Education")`.
    pub extra_gated_fields: Vec<(String, String)>,
    /// `model-index:` flattened to one row per reported metric.
    pub model_index: Vec<EvalResult>,
    /// The whole front matter as JSON (`null` when there is none or it is not
    /// valid YAML); for duplicate keys the last one wins.
    pub raw: serde_json::Value,
}

/// The `inference:` setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// `false` for `inference: false`; `true` for `inference: true` or a map.
    pub enabled: bool,
    /// The map as written when `inference:` is a map (usually `parameters: …`).
    pub settings: Option<serde_json::Value>,
}

impl CardMetadata {
    /// Parses front-matter YAML. Never fails: problems (invalid YAML, a list
    /// instead of a map, fields of the wrong type) are appended to `warnings`
    /// and the affected fields stay empty.
    pub fn from_yaml(yaml: &str, warnings: &mut Vec<String>) -> Self {
        match Yaml::parse(yaml) {
            Ok(tree) => Self::from_tree(&tree, warnings),
            Err(err) => {
                warnings.push(format!(
                    "The front matter is not valid YAML, so the card's metadata is ignored: {err} \
                     (lines count from the line after the opening `---`)."
                ));
                Self::default()
            }
        }
    }

    fn from_tree(tree: &Yaml, warnings: &mut Vec<String>) -> Self {
        let raw = tree.to_json();
        match tree {
            Yaml::Map(entries) => {
                warn_about_repeated_keys(entries, warnings);
                Self::from_map(tree, raw, warnings)
            }
            Yaml::Null => Self::default(),
            other => {
                warnings.push(format!(
                    "The front matter should be a map of `key: value` fields, but it is {}; \
                     the card's metadata is ignored.",
                    other.kind()
                ));
                Self {
                    raw,
                    ..Self::default()
                }
            }
        }
    }

    fn from_map(fields: &Yaml, raw: serde_json::Value, warnings: &mut Vec<String>) -> Self {
        let text =
            |key: &str, warnings: &mut Vec<String>| single_text(key, fields.get(key), warnings);
        let list =
            |key: &str, warnings: &mut Vec<String>| text_list(key, fields.get(key), warnings);
        Self {
            license: text("license", warnings),
            license_name: text("license_name", warnings),
            license_link: text("license_link", warnings),
            pipeline_tag: text("pipeline_tag", warnings),
            library_name: text("library_name", warnings),
            tags: list("tags", warnings),
            datasets: list("datasets", warnings),
            language: list("language", warnings),
            base_model: list("base_model", warnings),
            base_model_relation: text("base_model_relation", warnings),
            inference: inference(fields.get("inference"), warnings),
            has_widget: fields
                .get("widget")
                .is_some_and(|widget| *widget != Yaml::Null),
            extra_gated_prompt: text("extra_gated_prompt", warnings),
            extra_gated_heading: text("extra_gated_heading", warnings),
            extra_gated_description: text("extra_gated_description", warnings),
            extra_gated_button_content: text("extra_gated_button_content", warnings),
            extra_gated_fields: gated_fields(fields.get("extra_gated_fields"), warnings),
            model_index: flatten_model_index(fields.get("model-index"), warnings),
            raw,
        }
    }
}

fn warn_about_repeated_keys(entries: &[(String, Yaml)], warnings: &mut Vec<String>) {
    let mut seen = HashSet::new();
    let mut reported = HashSet::new();
    for (key, _) in entries {
        if !seen.insert(key) && reported.insert(key) {
            warnings.push(format!(
                "`{key}` appears more than once in the front matter; the last one is used."
            ));
        }
    }
}

fn inference(value: Option<&Yaml>, warnings: &mut Vec<String>) -> Option<Inference> {
    match value? {
        Yaml::Null => None,
        settings @ Yaml::Map(_) => Some(Inference {
            enabled: true,
            settings: Some(settings.to_json()),
        }),
        other => {
            let enabled = match other {
                Yaml::Bool(b) => Some(*b),
                Yaml::Text(text) => bool_word(text),
                _ => None,
            };
            if enabled.is_none() {
                warnings.push(wrong_kind(
                    "inference",
                    "true, false or a map",
                    other.kind(),
                ));
            }
            enabled.map(|enabled| Inference {
                enabled,
                settings: None,
            })
        }
    }
}

fn gated_fields(value: Option<&Yaml>, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let Some(Yaml::Map(form)) = map("extra_gated_fields", value, warnings) else {
        return Vec::new();
    };
    form.iter()
        .map(|(label, spec)| (label.clone(), describe_gated_field(label, spec, warnings)))
        .collect()
}

/// `text`, `checkbox`, `country`, `date_picker`, or `select: A, B` for a map
/// `{type: select, options: [A, B]}` (options may be `{label, value}` maps).
fn describe_gated_field(label: &str, spec: &Yaml, warnings: &mut Vec<String>) -> String {
    if let Some(text) = spec.scalar_text() {
        return text;
    }
    let Yaml::Map(_) = spec else {
        return String::new();
    };
    let path = format!("extra_gated_fields.{label}");
    let kind = single_text(&format!("{path}.type"), spec.get("type"), warnings);
    let options: Vec<String> = entries(&format!("{path}.options"), spec.get("options"), warnings)
        .into_iter()
        .filter_map(|option| {
            option
                .scalar_text()
                .or_else(|| option.get("label").and_then(Yaml::scalar_text))
                .or_else(|| option.get("value").and_then(Yaml::scalar_text))
        })
        .collect();
    let kind = kind.unwrap_or_else(|| "field".to_owned());
    if options.is_empty() {
        kind
    } else {
        format!("{kind}: {}", options.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> (CardMetadata, Vec<String>) {
        let mut warnings = Vec::new();
        let metadata = CardMetadata::from_yaml(yaml, &mut warnings);
        (metadata, warnings)
    }

    #[test]
    fn reads_every_field() {
        let (metadata, warnings) = parse(
            "license: other\nlicense_name: acme-1.0\nlicense_link: LICENSE\n\
             pipeline_tag: text-generation\nlibrary_name: transformers\n\
             tags: [a, b]\ndatasets: [x/y]\nlanguage: [en, 'no', no]\n\
             base_model: org/base\nbase_model_relation: finetune\ninference: false\n\
             widget:\n- text: hi\nextra_gated_prompt: Agree?\nextra_gated_heading: Access\n\
             extra_gated_description: Please fill\nextra_gated_button_content: Submit\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(metadata.license.as_deref(), Some("other"));
        assert_eq!(metadata.license_name.as_deref(), Some("acme-1.0"));
        assert_eq!(metadata.license_link.as_deref(), Some("LICENSE"));
        assert_eq!(metadata.pipeline_tag.as_deref(), Some("text-generation"));
        assert_eq!(metadata.library_name.as_deref(), Some("transformers"));
        assert_eq!(metadata.tags, ["a", "b"]);
        assert_eq!(metadata.datasets, ["x/y"]);
        assert_eq!(metadata.language, ["en", "no", "no"]);
        assert_eq!(metadata.base_model, ["org/base"]);
        assert_eq!(metadata.base_model_relation.as_deref(), Some("finetune"));
        assert_eq!(
            metadata.inference,
            Some(Inference {
                enabled: false,
                settings: None
            })
        );
        assert!(metadata.has_widget);
        assert_eq!(metadata.extra_gated_prompt.as_deref(), Some("Agree?"));
        assert_eq!(metadata.extra_gated_heading.as_deref(), Some("Access"));
        assert_eq!(
            metadata.extra_gated_description.as_deref(),
            Some("Please fill")
        );
        assert_eq!(
            metadata.extra_gated_button_content.as_deref(),
            Some("Submit")
        );
        assert_eq!(metadata.raw["base_model"], "org/base");
    }

    #[test]
    fn wrong_types_become_warnings() {
        // (YAML, expected number of warnings, check)
        type Check = fn(&CardMetadata) -> bool;
        let cases: &[(&str, usize, Check)] = &[
            ("license: 1.0", 0, |m| m.license.as_deref() == Some("1.0")),
            ("license: [mit, apache-2.0]", 1, |m| {
                m.license.as_deref() == Some("mit")
            }),
            ("license: {id: mit}", 1, |m| m.license.is_none()),
            ("language: no", 0, |m| m.language == ["no"]),
            ("language: {en: English}", 1, |m| m.language.is_empty()),
            ("tags: justone", 0, |m| m.tags == ["justone"]),
            ("tags: [ok, [nested]]", 1, |m| m.tags == ["ok"]),
            ("base_model: [a/b, c/d]", 0, |m| {
                m.base_model == ["a/b", "c/d"]
            }),
            ("pipeline_tag: [x, y]", 1, |m| {
                m.pipeline_tag.as_deref() == Some("x")
            }),
            ("inference: 3", 1, |m| m.inference.is_none()),
            ("inference: 'no'", 0, |m| {
                m.inference.as_ref().is_some_and(|i| !i.enabled)
            }),
            ("widget: ~", 0, |m| !m.has_widget),
            ("extra_gated_fields: [Name]", 1, |m| {
                m.extra_gated_fields.is_empty()
            }),
            ("model-index: 5", 1, |m| m.model_index.is_empty()),
            ("tags: [a]\ntags: [b]", 1, |m| m.tags == ["b"]),
        ];
        for (yaml, warning_count, check) in cases {
            let (metadata, warnings) = parse(yaml);
            assert_eq!(warnings.len(), *warning_count, "{yaml}: {warnings:?}");
            assert!(check(&metadata), "{yaml}: {metadata:?}");
        }
    }

    #[test]
    fn front_matter_that_is_not_a_map() {
        // (YAML, warning expected, raw JSON)
        let cases: &[(&str, bool, serde_json::Value)] = &[
            ("- a\n- b", true, serde_json::json!(["a", "b"])),
            ("just text", true, serde_json::json!("just text")),
            ("42", true, serde_json::json!(42)),
            ("", false, serde_json::Value::Null),
            ("# only a comment", false, serde_json::Value::Null),
            ("license: [mit", true, serde_json::Value::Null),
            ("a: b\n  c: d", true, serde_json::Value::Null),
        ];
        for (yaml, warned, raw) in cases {
            let (metadata, warnings) = parse(yaml);
            assert_eq!(!warnings.is_empty(), *warned, "{yaml}: {warnings:?}");
            assert_eq!(&metadata.raw, raw, "{yaml}");
            assert_eq!(metadata.license, None);
        }
    }

    #[test]
    fn inference_map_keeps_its_settings() {
        let (metadata, warnings) = parse("inference:\n  parameters:\n    temperature: 0.7\n");
        assert!(warnings.is_empty(), "{warnings:?}");
        let inference = metadata.inference.unwrap_or(Inference {
            enabled: false,
            settings: None,
        });
        assert!(inference.enabled);
        assert_eq!(
            inference.settings,
            Some(serde_json::json!({"parameters": {"temperature": 0.7}}))
        );
    }

    #[test]
    fn gated_fields_keep_card_order() {
        let (metadata, warnings) = parse(
            "extra_gated_fields:\n  Name: text\n  Country: country\n  Affiliation: text\n  \
             Use:\n    type: select\n    options:\n      - Research\n      - label: Other\n        value: other\n  \
             I agree: checkbox\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let fields: Vec<(&str, &str)> = metadata
            .extra_gated_fields
            .iter()
            .map(|(l, d)| (l.as_str(), d.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Name", "text"),
                ("Country", "country"),
                ("Affiliation", "text"),
                ("Use", "select: Research, Other"),
                ("I agree", "checkbox"),
            ]
        );
    }
}
