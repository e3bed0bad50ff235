//! Splitting a model card (README.md) into its YAML front matter and Markdown body.
//!
//! The rule follows the Hub's: after optional leading whitespace, a line `---`
//! opens the block and the next line that is exactly `---` closes it. A UTF-8
//! byte-order mark is skipped and CRLF line endings are accepted. Unlike the
//! Hub's regular expression, an empty block (`---` directly followed by `---`)
//! counts as empty front matter whatever the line endings.

use serde::Serialize;

/// A card split into front matter and body. Borrowed from the card's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitCard<'a> {
    /// The YAML between the `---` lines (without the line break before the
    /// closing `---`), or `None` when the card has no front matter block.
    pub yaml: Option<&'a str>,
    /// The Markdown after the block; the whole text (minus any byte-order
    /// mark) when there is no block.
    pub body: &'a str,
    /// A human-readable problem with the block, such as a missing closing `---`.
    pub warning: Option<String>,
}

const BYTE_ORDER_MARK: char = '\u{feff}';

/// Splits `text` into front matter and body. Never fails: without a complete
/// front matter block the whole text is the body.
pub fn split_front_matter(text: &str) -> SplitCard<'_> {
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    let no_front_matter = SplitCard {
        yaml: None,
        body: text,
        warning: None,
    };
    let Some(yaml_start) = opening_line_end(text) else {
        return no_front_matter;
    };
    let Some((yaml_end, body_start)) = closing_line(text, yaml_start) else {
        return SplitCard {
            warning: Some(
                "The card starts with `---` but the front matter is never closed by a `---` line, \
                 so it is shown as Markdown and its metadata is ignored."
                    .to_owned(),
            ),
            ..no_front_matter
        };
    };
    SplitCard {
        yaml: Some(&text[yaml_start..yaml_end]),
        body: &text[body_start..],
        warning: None,
    }
}

/// Where the YAML starts, if `text` opens with whitespace then a `---` line.
fn opening_line_end(text: &str) -> Option<usize> {
    let marker_start = text.len() - text.trim_start().len();
    let after_marker = text[marker_start..].strip_prefix("---")?;
    let line_break = if after_marker.starts_with("\r\n") {
        2
    } else if after_marker.starts_with('\n') {
        1
    } else {
        return None;
    };
    Some(text.len() - after_marker.len() + line_break)
}

/// The end of the YAML and the start of the body: the first line from
/// `yaml_start` on that is exactly `---` (a trailing `\r` allowed).
fn closing_line(text: &str, yaml_start: usize) -> Option<(usize, usize)> {
    let mut line_start = yaml_start;
    for line in text[yaml_start..].split_inclusive('\n') {
        let line_end = line_start + line.len();
        if line.trim_end_matches(['\n', '\r']) == "---" {
            let yaml = text[yaml_start..line_start].trim_end_matches(['\n', '\r']);
            return Some((yaml_start + yaml.len(), line_end));
        }
        line_start = line_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNCLOSED: &str = "never closed";

    /// (name, card text, expected YAML, expected body, expected warning fragment)
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
        Option<&'static str>,
    );

    #[test]
    fn splits_the_cases_cards_contain() {
        let cases: &[Case] = &[
            (
                "plain",
                "---\na: 1\n---\n# T\n",
                Some("a: 1"),
                "# T\n",
                None,
            ),
            (
                "crlf",
                "---\r\na: 1\r\nb: 2\r\n---\r\n\r\n# T\r\n",
                Some("a: 1\r\nb: 2"),
                "\r\n# T\r\n",
                None,
            ),
            (
                "bom",
                "\u{feff}---\na: 1\n---\nbody",
                Some("a: 1"),
                "body",
                None,
            ),
            ("bom without block", "\u{feff}# T\n", None, "# T\n", None),
            (
                "leading blank lines",
                "\n\n  \n---\na: 1\n---\nbody",
                Some("a: 1"),
                "body",
                None,
            ),
            (
                "no front matter",
                "# Title\n\ntext\n",
                None,
                "# Title\n\ntext\n",
                None,
            ),
            ("empty text", "", None, "", None),
            (
                "unclosed",
                "---\na: 1\n# T\n",
                None,
                "---\na: 1\n# T\n",
                Some(UNCLOSED),
            ),
            ("opening only", "---\n", None, "---\n", Some(UNCLOSED)),
            ("rule, not block", "---", None, "---", None),
            (
                "dashes with text",
                "--- a\nb\n---\n",
                None,
                "--- a\nb\n---\n",
                None,
            ),
            (
                "four dashes",
                "----\na: 1\n---\n",
                None,
                "----\na: 1\n---\n",
                None,
            ),
            ("empty block", "---\n---\nbody", Some(""), "body", None),
            ("blank block", "---\n\n---\nbody", Some(""), "body", None),
            ("closing at end", "---\na: 1\n---", Some("a: 1"), "", None),
            (
                "closing needs own line",
                "---\na: ---\n---\nb",
                Some("a: ---"),
                "b",
                None,
            ),
            (
                "indented dashes are yaml",
                "---\na: |\n  ---\n---\nb",
                Some("a: |\n  ---"),
                "b",
                None,
            ),
            (
                "first closing wins",
                "---\na: 1\n---\nx\n---\ny",
                Some("a: 1"),
                "x\n---\ny",
                None,
            ),
            (
                "non-ascii",
                "---\nname: ĝ\n---\n# Ĝ",
                Some("name: ĝ"),
                "# Ĝ",
                None,
            ),
        ];
        for (name, text, yaml, body, warning) in cases {
            let split = split_front_matter(text);
            assert_eq!(split.yaml, *yaml, "{name}: yaml");
            assert_eq!(split.body, *body, "{name}: body");
            match (warning, &split.warning) {
                (None, None) => {}
                (Some(fragment), Some(got)) => assert!(got.contains(fragment), "{name}: {got}"),
                (expected, got) => panic!("{name}: expected warning {expected:?}, got {got:?}"),
            }
        }
    }
}
