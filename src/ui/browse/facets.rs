//! The facets panel: every filter [`ModelQuery`] supports, and the sort order.

use std::collections::BTreeSet;

use eframe::egui;

use crate::hub::{ModelQuery, SortKey};
use crate::ui::runtime::tasks::{TASK_GROUPS, task_label};

/// Libraries offered as checkboxes (the Hub's most used ones).
const LIBRARIES: &[&str] = &[
    "transformers",
    "safetensors",
    "pytorch",
    "gguf",
    "diffusers",
    "sentence-transformers",
    "onnx",
    "mlx",
    "peft",
    "timm",
    "transformers.js",
    "keras",
];

/// Licenses offered (one at a time: the Hub requires every filter to match).
const LICENSES: &[&str] = &[
    "apache-2.0",
    "mit",
    "openrail",
    "creativeml-openrail-m",
    "cc-by-4.0",
    "cc-by-sa-4.0",
    "cc-by-nc-4.0",
    "llama3.1",
    "gemma",
    "gpl-3.0",
    "other",
];

/// Languages offered as checkboxes: (code, name).
const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("zh", "Chinese"),
    ("fr", "French"),
    ("de", "German"),
    ("es", "Spanish"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("ru", "Russian"),
    ("ar", "Arabic"),
    ("multilingual", "Multilingual"),
];

/// Local apps (the `apps` filter).
const APPS: &[&str] = &["llama.cpp", "ollama", "lmstudio", "vllm", "mlx-lm"];

/// Parameter ranges offered as presets: (label, min, max).
const PARAM_PRESETS: &[(&str, &str, &str)] = &[
    ("< 1B", "", "1B"),
    ("1–8B", "1B", "8B"),
    ("8–40B", "8B", "40B"),
    ("> 40B", "40B", ""),
];

/// Gated or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GatedFilter {
    /// Both.
    #[default]
    Any,
    /// Only gated repos.
    Gated,
    /// Only ungated repos.
    Ungated,
}

/// The filters picked in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Facets {
    /// `pipeline_tag`.
    pub task: Option<String>,
    /// Library tags (all must match).
    pub libraries: BTreeSet<String>,
    /// `license:<id>`.
    pub license: Option<String>,
    /// Language tags (all must match).
    pub languages: BTreeSet<String>,
    /// Smallest parameter count (`500M`), empty for none.
    pub min_params: String,
    /// Largest parameter count, empty for none.
    pub max_params: String,
    /// Gating.
    pub gated: GatedFilter,
    /// Apps the model runs in.
    pub apps: BTreeSet<String>,
    /// Author (user or organisation), empty for any.
    pub author: String,
    /// Any other tag (`dataset:squad`, `arxiv:1810.04805`), empty for none.
    pub tag: String,
    /// Order.
    pub sort: SortKey,
}

impl Default for Facets {
    fn default() -> Facets {
        Facets {
            task: None,
            libraries: BTreeSet::new(),
            license: None,
            languages: BTreeSet::new(),
            min_params: String::new(),
            max_params: String::new(),
            gated: GatedFilter::Any,
            apps: BTreeSet::new(),
            author: String::new(),
            tag: String::new(),
            sort: SortKey::Trending,
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl Facets {
    /// Adds the picked filters to `query`.
    pub fn apply(&self, query: &mut ModelQuery) {
        query.pipeline_tag = self.task.clone();
        query.filters.extend(self.libraries.iter().cloned());
        query
            .filters
            .extend(self.license.iter().map(|l| format!("license:{l}")));
        query.filters.extend(self.languages.iter().cloned());
        query.filters.extend(non_empty(&self.tag));
        query.min_params = non_empty(&self.min_params);
        query.max_params = non_empty(&self.max_params);
        query.gated = match self.gated {
            GatedFilter::Any => None,
            GatedFilter::Gated => Some(true),
            GatedFilter::Ungated => Some(false),
        };
        query.apps = self.apps.iter().cloned().collect();
        query.author = non_empty(&self.author);
        query.sort = Some(self.sort);
    }

    /// How many filters are set (the sort order not counted).
    pub fn active(&self) -> usize {
        usize::from(self.task.is_some())
            + self.libraries.len()
            + usize::from(self.license.is_some())
            + self.languages.len()
            + usize::from(!self.min_params.trim().is_empty() || !self.max_params.trim().is_empty())
            + usize::from(self.gated != GatedFilter::Any)
            + self.apps.len()
            + usize::from(!self.author.trim().is_empty())
            + usize::from(!self.tag.trim().is_empty())
    }

    /// Shows the panel's contents; returns whether a filter changed (text fields report a
    /// change when edited, so the caller debounces them like the search box).
    pub fn show(&mut self, ui: &mut egui::Ui) -> FacetChange {
        let before = self.clone();
        let mut typed = false;
        ui.horizontal(|ui| {
            ui.strong("Filters");
            if self.active() > 0 && ui.small_button("Clear all").clicked() {
                *self = Facets {
                    sort: self.sort,
                    ..Facets::default()
                };
            }
        });
        egui::ComboBox::from_label("Sort")
            .selected_text(sort_label(self.sort))
            .show_ui(ui, |ui| {
                for key in SortKey::ALL {
                    ui.selectable_value(&mut self.sort, key, sort_label(key));
                }
            });
        ui.separator();
        self.tasks(ui);
        checkbox_section(ui, "Libraries", LIBRARIES, &mut self.libraries);
        egui::CollapsingHeader::new("License").show(ui, |ui| {
            for license in LICENSES {
                let on = self.license.as_deref() == Some(*license);
                if ui.selectable_label(on, *license).clicked() {
                    self.license = (!on).then(|| license.to_string());
                }
            }
        });
        egui::CollapsingHeader::new("Languages").show(ui, |ui| {
            for (code, name) in LANGUAGES {
                let mut on = self.languages.contains(*code);
                if ui.checkbox(&mut on, format!("{name} ({code})")).changed() {
                    toggle(&mut self.languages, code, on);
                }
            }
        });
        egui::CollapsingHeader::new("Parameters").show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                for (label, min, max) in PARAM_PRESETS {
                    let on = self.min_params == *min && self.max_params == *max;
                    if ui.selectable_label(on, *label).clicked() {
                        (self.min_params, self.max_params) = if on {
                            (String::new(), String::new())
                        } else {
                            (min.to_string(), max.to_string())
                        };
                    }
                }
            });
            typed |= labelled_edit(ui, "At least", &mut self.min_params, "e.g. 500M");
            typed |= labelled_edit(ui, "At most", &mut self.max_params, "e.g. 8B");
        });
        egui::CollapsingHeader::new("Access").show(ui, |ui| {
            ui.radio_value(&mut self.gated, GatedFilter::Any, "Gated or not");
            ui.radio_value(&mut self.gated, GatedFilter::Gated, "Gated only");
            ui.radio_value(&mut self.gated, GatedFilter::Ungated, "Ungated only");
        });
        checkbox_section(ui, "Apps", APPS, &mut self.apps);
        egui::CollapsingHeader::new("Author and tags").show(ui, |ui| {
            typed |= labelled_edit(ui, "Author", &mut self.author, "e.g. Qwen");
            typed |= labelled_edit(ui, "Tag", &mut self.tag, "e.g. dataset:squad");
        });
        if typed {
            FacetChange::Typed
        } else if *self != before {
            FacetChange::Picked
        } else {
            FacetChange::None
        }
    }

    fn tasks(&mut self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new("Tasks")
            .default_open(true)
            .show(ui, |ui| {
                for (group, tasks) in TASK_GROUPS {
                    let open = tasks.iter().any(|t| self.task.as_deref() == Some(*t));
                    egui::CollapsingHeader::new(*group)
                        .default_open(open)
                        .show(ui, |ui| {
                            for task in *tasks {
                                let on = self.task.as_deref() == Some(*task);
                                let label = ui.selectable_label(on, task_label(task));
                                if label.on_hover_text(*task).clicked() {
                                    self.task = (!on).then(|| task.to_string());
                                }
                            }
                        });
                }
            });
    }
}

/// What [`Facets::show`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacetChange {
    /// Nothing.
    None,
    /// A click: search now.
    Picked,
    /// Typing in a text field: search after the debounce.
    Typed,
}

fn checkbox_section(ui: &mut egui::Ui, title: &str, items: &[&str], set: &mut BTreeSet<String>) {
    egui::CollapsingHeader::new(title).show(ui, |ui| {
        for item in items {
            let mut on = set.contains(*item);
            if ui.checkbox(&mut on, *item).changed() {
                toggle(set, item, on);
            }
        }
    });
}

fn toggle(set: &mut BTreeSet<String>, item: &str, on: bool) {
    if on {
        set.insert(item.to_string());
    } else {
        set.remove(item);
    }
}

/// A one-line text field with a visible, accessible label; returns whether it was edited.
pub fn labelled_edit(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) -> bool {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(110.0),
        )
        .labelled_by(label.id)
        .changed()
    })
    .inner
}

/// The sort order's name for people.
pub fn sort_label(key: SortKey) -> &'static str {
    match key {
        SortKey::Trending => "Trending",
        SortKey::Downloads => "Most downloads",
        SortKey::Likes => "Most likes",
        SortKey::LastModified => "Recently updated",
        SortKey::CreatedAt => "Recently created",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_become_query_parameters() {
        let mut facets = Facets {
            task: Some("text-generation".into()),
            license: Some("mit".into()),
            min_params: "1B".into(),
            gated: GatedFilter::Ungated,
            author: " Qwen ".into(),
            sort: SortKey::Likes,
            ..Facets::default()
        };
        facets.libraries.insert("gguf".into());
        facets.languages.insert("en".into());
        facets.apps.insert("llama.cpp".into());
        assert_eq!(facets.active(), 8);
        let mut query = ModelQuery::text("llama");
        facets.apply(&mut query);
        let pairs = query.to_pairs();
        let has = |k: &str, v: &str| pairs.iter().any(|(a, b)| *a == k && b == v);
        assert!(has("pipeline_tag", "text-generation"));
        assert!(has("filter", "gguf") && has("filter", "license:mit") && has("filter", "en"));
        assert!(has("num_parameters", "min:1B"));
        assert!(has("gated", "false") && has("apps", "llama.cpp") && has("author", "Qwen"));
        assert!(has("sort", "likes"));
    }
}
