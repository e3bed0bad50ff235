//! Lenient readers for front-matter fields: a value of an unexpected shape
//! becomes a warning, never an error.

use super::yaml::Yaml;

/// Reads a field that holds one piece of text.
///
/// Numbers and booleans are written as text (`license: 1.0` gives `"1.0"`); a
/// list gives its first entry (with a warning when it has several); a map is
/// ignored with a warning. Empty text counts as absent.
pub(crate) fn single_text(
    path: &str,
    value: Option<&Yaml>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    match value? {
        Yaml::Null => None,
        Yaml::List(items) => {
            let texts = texts_of(path, items, warnings);
            if texts.len() > 1 {
                warnings.push(format!(
                    "`{path}` should be a single value but lists {}; only the first (`{}`) is used.",
                    texts.len(),
                    texts[0]
                ));
            }
            texts.into_iter().next()
        }
        Yaml::Map(_) => {
            warnings.push(wrong_kind(path, "text", "a map"));
            None
        }
        scalar => scalar.scalar_text().filter(|text| !text.trim().is_empty()),
    }
}

/// Reads a field that holds a list of text entries; a single value counts as a
/// one-entry list. Entries that are lists or maps are skipped with a warning.
pub(crate) fn text_list(
    path: &str,
    value: Option<&Yaml>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    match value {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::List(items)) => texts_of(path, items, warnings),
        Some(Yaml::Map(_)) => {
            warnings.push(wrong_kind(path, "a list of text", "a map"));
            Vec::new()
        }
        Some(scalar) => scalar
            .scalar_text()
            .filter(|text| !text.trim().is_empty())
            .into_iter()
            .collect(),
    }
}

/// Reads a field that holds a list of entries; a lone map counts as a one-entry
/// list (with a warning, as the card should have written `- ` before it).
pub(crate) fn entries<'a>(
    path: &str,
    value: Option<&'a Yaml>,
    warnings: &mut Vec<String>,
) -> Vec<&'a Yaml> {
    match value {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::List(items)) => items.iter().collect(),
        Some(map @ Yaml::Map(_)) => {
            warnings.push(format!(
                "`{path}` should be a list; its single map was read as one entry."
            ));
            vec![map]
        }
        Some(other) => {
            warnings.push(wrong_kind(path, "a list", other.kind()));
            Vec::new()
        }
    }
}

/// Reads a field that holds a map; anything else (except absence) is a warning.
pub(crate) fn map<'a>(
    path: &str,
    value: Option<&'a Yaml>,
    warnings: &mut Vec<String>,
) -> Option<&'a Yaml> {
    match value? {
        Yaml::Null => None,
        map @ Yaml::Map(_) => Some(map),
        other => {
            warnings.push(wrong_kind(path, "a map", other.kind()));
            None
        }
    }
}

/// Reads a true/false field; the YAML 1.1 words `yes`/`no`/`on`/`off` and
/// quoted `"true"`/`"false"` are accepted too.
pub(crate) fn boolean(
    path: &str,
    value: Option<&Yaml>,
    warnings: &mut Vec<String>,
) -> Option<bool> {
    match value? {
        Yaml::Null => None,
        Yaml::Bool(b) => Some(*b),
        Yaml::Text(text) => {
            let parsed = bool_word(text);
            if parsed.is_none() {
                warnings.push(format!(
                    "`{path}` should be true or false, not `{text}`; it was ignored."
                ));
            }
            parsed
        }
        other => {
            warnings.push(wrong_kind(path, "true or false", other.kind()));
            None
        }
    }
}

/// `true`/`false` for the words YAML 1.1 and people use for them.
pub(crate) fn bool_word(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The standard warning for a field of the wrong kind.
pub(crate) fn wrong_kind(path: &str, expected: &str, found: &str) -> String {
    format!("`{path}` should be {expected}, but it is {found}; it was ignored.")
}

fn texts_of(path: &str, items: &[Yaml], warnings: &mut Vec<String>) -> Vec<String> {
    let mut texts = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            Yaml::Null => {}
            Yaml::List(_) | Yaml::Map(_) => {
                warnings.push(wrong_kind(&format!("{path}[{index}]"), "text", item.kind()));
            }
            scalar => texts.extend(scalar.scalar_text().filter(|text| !text.trim().is_empty())),
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        Yaml::parse(text).unwrap_or(Yaml::Null)
    }

    #[test]
    fn single_text_cases() {
        // (YAML value, expected text, expected number of warnings)
        let cases: &[(&str, Option<&str>, usize)] = &[
            ("mit", Some("mit"), 0),
            ("1.0", Some("1.0"), 0),
            ("2", Some("2"), 0),
            ("no", Some("no"), 0),
            ("true", Some("true"), 0),
            ("''", None, 0),
            ("~", None, 0),
            ("[mit]", Some("mit"), 0),
            ("[mit, apache-2.0]", Some("mit"), 1),
            ("[[a], b]", Some("b"), 1),
            ("{a: b}", None, 1),
        ];
        for (text, expected, warning_count) in cases {
            let mut warnings = Vec::new();
            let value = yaml(text);
            let got = single_text("license", Some(&value), &mut warnings);
            assert_eq!(got.as_deref(), *expected, "{text}");
            assert_eq!(warnings.len(), *warning_count, "{text}: {warnings:?}");
        }
        assert_eq!(single_text("license", None, &mut Vec::new()), None);
    }

    #[test]
    fn text_list_cases() {
        let cases: &[(&str, &[&str], usize)] = &[
            ("en", &["en"], 0),
            ("[en, fr]", &["en", "fr"], 0),
            ("[en, 'no', no, 1, ~, '']", &["en", "no", "no", "1"], 0),
            ("[en, {a: b}]", &["en"], 1),
            ("{a: b}", &[], 1),
            ("~", &[], 0),
        ];
        for (text, expected, warning_count) in cases {
            let mut warnings = Vec::new();
            let value = yaml(text);
            assert_eq!(
                text_list("language", Some(&value), &mut warnings),
                *expected,
                "{text}"
            );
            assert_eq!(warnings.len(), *warning_count, "{text}: {warnings:?}");
        }
    }

    #[test]
    fn boolean_cases() {
        let cases: &[(&str, Option<bool>, usize)] = &[
            ("true", Some(true), 0),
            ("false", Some(false), 0),
            ("'False'", Some(false), 0),
            ("no", Some(false), 0),
            ("maybe", None, 1),
            ("[true]", None, 1),
            ("~", None, 0),
        ];
        for (text, expected, warning_count) in cases {
            let mut warnings = Vec::new();
            let value = yaml(text);
            assert_eq!(
                boolean("verified", Some(&value), &mut warnings),
                *expected,
                "{text}"
            );
            assert_eq!(warnings.len(), *warning_count, "{text}: {warnings:?}");
        }
    }

    #[test]
    fn entries_and_map_cases() {
        let mut warnings = Vec::new();
        let list = yaml("[{a: 1}, {a: 2}]");
        assert_eq!(entries("x", Some(&list), &mut warnings).len(), 2);
        let lone = yaml("{a: 1}");
        assert_eq!(entries("x", Some(&lone), &mut warnings).len(), 1);
        let scalar = yaml("5");
        assert!(entries("x", Some(&scalar), &mut warnings).is_empty());
        assert!(map("x", Some(&scalar), &mut warnings).is_none());
        assert!(map("x", Some(&lone), &mut warnings).is_some());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }
}
