//! Makes a card's HTML readable in a Markdown viewer that does not render HTML: every HTML block
//! and inline tag is rewritten into Markdown before display. Images become Markdown images (with
//! relative paths resolved against the repo), links become links, tables become GFM tables,
//! headings and emphasis keep their meaning, everything else is reduced to its text. Code blocks
//! are left alone because only the parser's HTML events are rewritten.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The card body with its HTML rewritten as Markdown. `base` is the URL relative image paths are
/// resolved against (`<endpoint>/<repo>/resolve/<rev>/`).
pub fn prepare_markdown(body: &str, base: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut block: Option<usize> = None;
    // Inline tags of one paragraph share a writer, so `<a href>` … `</a>` pair up.
    let mut inline = Writer::new(base, false);
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(Tag::HtmlBlock) => block = Some(range.start),
            Event::End(TagEnd::HtmlBlock) => {
                if let Some(start) = block.take() {
                    let end = range.end.max(start);
                    let mut writer = Writer::new(base, true);
                    writer.write(&body[start..end]);
                    edits.push((start..end, writer.finish()));
                }
            }
            Event::InlineHtml(html) if block.is_none() => {
                inline.write(&html);
                edits.push((range, std::mem::take(&mut inline.out)));
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::TableCell | TagEnd::Item,
            ) => {
                inline = Writer::new(base, false);
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at {
            continue;
        }
        out.push_str(&body[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&body[at..]);
    out
}

/// Resolves an image or link target: absolute URLs and anchors are kept, paths are joined to
/// `base`.
pub fn resolve(base: &str, target: &str) -> String {
    let target = target.trim();
    if target.contains("://") || target.starts_with("data:") || target.starts_with('#') {
        return target.to_string();
    }
    if target.starts_with("//") {
        return format!("https:{target}");
    }
    let path = target.trim_start_matches("./").trim_start_matches('/');
    format!("{base}{path}")
}

/// One tag: its lower-case name, whether it closes, and its attributes.
struct TagToken {
    name: String,
    closing: bool,
    attributes: Vec<(String, String)>,
}

impl TagToken {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Token {
    Text(String),
    Tag(TagToken),
}

fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        if rest.starts_with('<')
            && let Some(end) = rest.find('>')
            && let Some(tag) = parse_tag(&rest[1..end])
        {
            tokens.push(Token::Tag(tag));
            rest = &rest[end + 1..];
            continue;
        }
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let next = rest[first..].find('<').map_or(rest.len(), |i| i + first);
        tokens.push(Token::Text(rest[..next].to_string()));
        rest = &rest[next..];
    }
    tokens
}

fn parse_tag(inner: &str) -> Option<TagToken> {
    let inner = inner.trim().trim_end_matches('/');
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    let mut attributes = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, remainder) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = remainder.trim_start();
            decode_entities(value)
        } else {
            String::new()
        };
        if !key.is_empty() {
            attributes.push((key, value));
        } else {
            break;
        }
    }
    Some(TagToken {
        name,
        closing,
        attributes,
    })
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&end| end <= 12);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        // HTML also accepts the common entities without the `;` (`&nbsp&nbsp`).
        let decoded = decoded.or_else(|| {
            [
                ("&nbsp", ' '),
                ("&amp", '&'),
                ("&lt", '<'),
                ("&gt", '>'),
                ("&quot", '"'),
            ]
            .into_iter()
            .find(|(name, _)| rest.starts_with(name))
            .map(|(name, c)| (c, name.len()))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text as Markdown: entities decoded, HTML whitespace collapsed, Markdown-active `<`, `>` and
/// `|` (in tables) escaped.
fn text_markdown(text: &str, in_cell: bool) -> String {
    let decoded = decode_entities(text);
    let mut out = String::with_capacity(decoded.len());
    let mut space = false;
    for c in decoded.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        match c {
            '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '|' if in_cell => out.push_str("\\|"),
            _ => out.push(c),
        }
    }
    if space && !out.is_empty() {
        out.push(' ');
    }
    out
}

/// Builds Markdown out of HTML tokens.
struct Writer<'a> {
    base: &'a str,
    block: bool,
    out: String,
    links: Vec<Option<String>>,
    skip: usize,
    row: Option<Vec<String>>,
    cell: Option<String>,
    rows: usize,
}

impl Writer<'_> {
    fn push(&mut self, text: &str) {
        match &mut self.cell {
            Some(cell) => cell.push_str(text),
            None => self.out.push_str(text),
        }
    }

    fn paragraph_break(&mut self) {
        if !self.block || self.cell.is_some() {
            self.push(" ");
            return;
        }
        let trimmed = self.out.trim_end_matches([' ', '\n']).len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
    }

    fn tag(&mut self, tag: &TagToken) {
        let name = tag.name.as_str();
        if matches!(name, "script" | "style") {
            if tag.closing {
                self.skip = self.skip.saturating_sub(1);
            } else {
                self.skip += 1;
            }
            return;
        }
        match (name, tag.closing) {
            ("img", false) => {
                if let Some(src) = tag.attribute("src").filter(|s| !s.is_empty()) {
                    let alt = text_markdown(tag.attribute("alt").unwrap_or(""), true)
                        .replace(['[', ']'], "");
                    let url = resolve(self.base, src).replace(' ', "%20");
                    self.push(&format!("![{alt}]({url})"));
                }
            }
            ("a", false) => {
                let href = tag
                    .attribute("href")
                    .filter(|h| !h.is_empty() && !h.starts_with('#'))
                    .map(|h| resolve(self.base, h).replace(' ', "%20"));
                if href.is_some() {
                    self.push("[");
                }
                self.links.push(href);
            }
            ("a", true) => {
                if let Some(Some(href)) = self.links.pop() {
                    self.push(&format!("]({href})"));
                }
            }
            ("br", _) if self.block && self.cell.is_none() => self.out.push_str("  \n"),
            ("br", _) => self.push(" "),
            ("b" | "strong", _) => self.push("**"),
            ("i" | "em", _) => self.push("*"),
            ("code", _) => self.push("`"),
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                self.paragraph_break();
                if self.block && self.cell.is_none() {
                    let level = name[1..].parse().unwrap_or(1);
                    self.out.push_str(&"#".repeat(level));
                    self.out.push(' ');
                }
            }
            ("li", false) => {
                self.paragraph_break();
                if self.block && self.cell.is_none() {
                    self.out.truncate(self.out.trim_end_matches('\n').len());
                    self.out.push_str("\n- ");
                }
            }
            ("tr", false) => {
                self.finish_row();
                self.row = Some(Vec::new());
            }
            ("td" | "th", false) => {
                self.finish_cell();
                self.cell = Some(String::new());
            }
            ("td" | "th", true) => self.finish_cell(),
            ("tr", true) => self.finish_row(),
            ("table", false) => {
                self.paragraph_break();
                self.rows = 0;
            }
            ("table", true) => {
                self.finish_row();
                self.paragraph_break();
            }
            (
                "p" | "div" | "center" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol"
                | "pre" | "blockquote" | "details" | "summary" | "hr",
                _,
            ) => self.paragraph_break(),
            _ => {}
        }
    }

    fn finish_cell(&mut self) {
        if let Some(cell) = self.cell.take() {
            let cell = cell.trim().replace('\n', " ");
            match &mut self.row {
                Some(row) => row.push(cell),
                None => self.out.push_str(&cell),
            }
        }
    }

    fn finish_row(&mut self) {
        self.finish_cell();
        let Some(row) = self.row.take() else {
            return;
        };
        if row.is_empty() {
            return;
        }
        if self.rows == 0 {
            let trimmed = self.out.trim_end_matches([' ', '\n']).len();
            self.out.truncate(trimmed);
            if !self.out.is_empty() {
                self.out.push_str("\n\n");
            }
        }
        self.out.push_str(&format!("| {} |\n", row.join(" | ")));
        if self.rows == 0 {
            self.out
                .push_str(&format!("|{}\n", " --- |".repeat(row.len())));
        }
        self.rows += 1;
    }
}

impl<'a> Writer<'a> {
    fn new(base: &'a str, block: bool) -> Writer<'a> {
        Writer {
            base,
            block,
            out: String::new(),
            links: Vec::new(),
            skip: 0,
            row: None,
            cell: None,
            rows: 0,
        }
    }

    /// Converts HTML: a whole block (`block`), or inline tags.
    fn write(&mut self, html: &str) {
        for token in tokenize(html) {
            match token {
                Token::Tag(tag) => self.tag(&tag),
                Token::Text(_) if self.skip > 0 => {}
                // Stray text between table cells.
                Token::Text(_) if self.block && self.cell.is_none() && self.row.is_some() => {}
                Token::Text(text) => {
                    let text = text_markdown(&text, self.cell.is_some());
                    self.push(&text);
                }
            }
        }
    }

    /// The Markdown of a block, ending in a blank line.
    fn finish(mut self) -> String {
        self.finish_row();
        let mut out = self.out.trim().to_string();
        out.push_str("\n\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://hub/org/m/resolve/main/";

    #[test]
    fn images_links_and_headings_become_markdown() {
        let body = "# Title\n\n<p align=\"center\">\n  <img src=\"./assets/logo.png\" alt=\"Logo\" width=\"200\"/>\n</p>\n\nText with <b>bold</b> and a <br> break.\n\n<h2>Usage</h2>\n\n<a href=\"https://x.org/a\"><img src=\"https://img/badge.svg\"></a>\n";
        let out = prepare_markdown(body, BASE);
        assert!(
            out.contains("![Logo](http://hub/org/m/resolve/main/assets/logo.png)"),
            "{out}"
        );
        assert!(out.contains("Text with **bold** and a"), "{out}");
        assert!(out.contains("## Usage"), "{out}");
        assert!(
            out.contains("[![](https://img/badge.svg)](https://x.org/a)"),
            "{out}"
        );
        assert!(!out.contains("<p") && !out.contains("<img"), "{out}");
    }

    #[test]
    fn tables_become_gfm_tables() {
        let body = "<table>\n<tr><th>Model</th><th>Score</th></tr>\n<tr><td>a|b</td><td>1.0</td></tr>\n</table>\n\nAfter.\n";
        let out = prepare_markdown(body, BASE);
        assert!(
            out.contains("| Model | Score |\n| --- | --- |\n| a\\|b | 1.0 |\n"),
            "{out}"
        );
        assert!(out.contains("After."));
    }

    #[test]
    fn code_comments_and_entities() {
        let body = "```html\n<div>kept</div>\n```\n\n<!-- hidden -->\n\n<div>a &amp; b &lt;c&gt; &#20013;</div>\n\n<script>alert(1)</script>\n";
        let out = prepare_markdown(body, BASE);
        assert!(out.contains("```html\n<div>kept</div>\n```"), "{out}");
        assert!(!out.contains("hidden") && !out.contains("alert"), "{out}");
        assert!(out.contains("a & b \\<c\\> 中"), "{out}");
    }

    #[test]
    fn non_ascii_text_and_entities() {
        let body =
            "<p>中文 &amp; 한국어 &unknown; 日本語&nbsp&nbsp|</p>\n\n<div>価格&#x4E2D;</div>\n";
        let out = prepare_markdown(body, BASE);
        assert!(out.contains("中文 & 한국어 &unknown; 日本語 |"), "{out}");
        assert!(out.contains("価格中"), "{out}");
    }

    #[test]
    fn resolves_targets() {
        assert_eq!(resolve(BASE, "a/b.png"), format!("{BASE}a/b.png"));
        assert_eq!(resolve(BASE, "/a.png"), format!("{BASE}a.png"));
        assert_eq!(resolve(BASE, "https://x/y.png"), "https://x/y.png");
        assert_eq!(resolve(BASE, "//cdn/y.png"), "https://cdn/y.png");
        assert_eq!(resolve(BASE, "#top"), "#top");
    }
}
