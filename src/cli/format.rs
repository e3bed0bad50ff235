//! Tables for terminal output; the number, size and date helpers live in `crate::format`.

pub use crate::format::{bytes, count, params, relative_time};

/// A plain-text table with a header row; columns are padded to their widest cell and cells
/// longer than `max_width` are cut with `…`.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right_aligned: Vec<bool>,
    max_width: usize,
}

impl Table {
    /// A table with these column titles; a title starting with `>` is right-aligned.
    pub fn new(titles: &[&str]) -> Table {
        Table {
            header: titles
                .iter()
                .map(|t| t.trim_start_matches('>').to_string())
                .collect(),
            right_aligned: titles.iter().map(|t| t.starts_with('>')).collect(),
            rows: Vec::new(),
            max_width: 60,
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether no rows were added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines of text.
    pub fn render(&self) -> String {
        let cut = |s: &str| -> String {
            let s = s.replace(['\n', '\r', '\t'], " ");
            if s.chars().count() > self.max_width {
                let kept: String = s.chars().take(self.max_width - 1).collect();
                format!("{kept}…")
            } else {
                s
            }
        };
        let all_rows: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|row| {
                (0..self.header.len())
                    .map(|i| cut(row.get(i).map(String::as_str).unwrap_or("")))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                all_rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &all_rows {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let pad = widths[i] - cell.chars().count();
                    if self.right_aligned[i] {
                        format!("{}{cell}", " ".repeat(pad))
                    } else {
                        format!("{cell}{}", " ".repeat(pad))
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_align_and_cut() {
        let mut table = Table::new(&["NAME", ">SIZE"]);
        table.row(vec!["a".into(), "1 B".into()]);
        table.row(vec!["x".repeat(70), "10 kB".into()]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], format!("a{}    1 B", " ".repeat(59)));
        assert!(lines[2].starts_with(&format!("{}…  10 kB", "x".repeat(59))));
        assert_eq!(
            lines[0].trim_end(),
            format!("NAME{}   SIZE", " ".repeat(56))
        );
    }
}
