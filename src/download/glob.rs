//! `--include`/`--exclude` patterns, matched like huggingface_hub's `filter_repo_objects`
//! (Python's `fnmatch`): `*` matches any run of characters including `/`, `?` one character,
//! `[abc]`/`[a-z]`/`[!abc]` a class; a pattern ending in `/` matches everything below it.

/// Whether `path` passes the filters: it matches some `include` pattern (or there are none)
/// and no `exclude` pattern.
pub fn selected(path: &str, include: &[String], exclude: &[String]) -> bool {
    let included = include.is_empty() || include.iter().any(|p| matches(p, path));
    included && !exclude.iter().any(|p| matches(p, path))
}

/// Whether `pattern` matches the whole of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut pattern: Vec<char> = pattern.chars().collect();
    if pattern.last() == Some(&'/') {
        pattern.push('*');
    }
    let text: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*` (linear in practice).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((hit, next)) = class(&pattern, p, text[t]) {
                        if hit {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        // An unclosed `[` is a literal, as in fnmatch.
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `pattern[start] == '['`: `Some((hit, index after
/// the class))`, or `None` when the class is not closed.
fn class(pattern: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(pattern.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *pattern.get(i)?;
        if lo == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = pattern[i + 2];
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_semantics() {
        let cases = [
            ("*.safetensors", "model.safetensors", true),
            ("*.safetensors", "sub/model.safetensors", true),
            ("*.json", "model.safetensors", false),
            ("onnx/", "onnx/model.onnx", true),
            ("onnx/*", "onnx/a/b.onnx", true),
            ("model-?.bin", "model-1.bin", true),
            ("model-?.bin", "model-12.bin", false),
            ("*Q4_K_M*", "tiny.Q4_K_M.gguf", true),
            ("[ab]*.txt", "a1.txt", true),
            ("[!ab]*.txt", "a1.txt", false),
            ("[0-9].txt", "7.txt", true),
            ("[x", "[x", true),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn include_then_exclude() {
        let inc = vec!["*.json".to_string(), "*.md".to_string()];
        let exc = vec!["tokenizer*".to_string()];
        assert!(selected("config.json", &inc, &exc));
        assert!(!selected("tokenizer.json", &inc, &exc));
        assert!(!selected("model.bin", &inc, &exc));
        assert!(selected("model.bin", &[], &[]));
    }
}
