//! Human-readable numbers, sizes and dates, shared by the command line and the desktop app.

use chrono::{DateTime, Utc};

/// A count as people read it on the Hub: `987`, `15.3k`, `1.2M`, `3.4B`.
pub fn count(n: u64) -> String {
    scaled(n as f64, &["", "k", "M", "B", "T"], 1000.0)
}

/// A parameter count: `22.7M`, `110.1M`, `7.2B`.
pub fn params(n: u64) -> String {
    scaled(n as f64, &["", "K", "M", "B", "T"], 1000.0)
}

/// An exact count with thousands separators: `110,106,428`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in decimal units, as the Hub shows them: `345 B`, `440.5 MB`, `1.34 GB`.
pub fn bytes(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value < 10.0 { 2 } else { 1 };
    format!("{value:.decimals$} {}", units[unit])
}

fn scaled(value: f64, suffixes: &[&str], step: f64) -> String {
    let mut value = value;
    let mut index = 0;
    while value >= step && index + 1 < suffixes.len() {
        value /= step;
        index += 1;
    }
    if index == 0 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{}", suffixes[index])
}

/// A picture size written `WIDTHxHEIGHT` (`1024x768`; `×` also taken), both at least 1.
pub fn parse_picture_size(text: &str) -> Option<(u64, u64)> {
    let (width, height) = text.trim().split_once(['x', 'X', '×'])?;
    let width = width.trim().parse::<u64>().ok().filter(|w| *w > 0)?;
    let height = height.trim().parse::<u64>().ok().filter(|h| *h > 0)?;
    Some((width, height))
}

/// How long ago an RFC 3339 timestamp was: `just now`, `5 minutes ago`, `3 months ago`.
/// Unparseable input is shown as given.
pub fn relative_time(timestamp: &str, now: DateTime<Utc>) -> String {
    let Ok(then) = DateTime::parse_from_rfc3339(timestamp) else {
        return timestamp.to_string();
    };
    let seconds = (now - then.with_timezone(&Utc)).num_seconds();
    if seconds < 0 {
        return "in the future".into();
    }
    let steps: [(i64, &str); 6] = [
        (60 * 60 * 24 * 365, "year"),
        (60 * 60 * 24 * 30, "month"),
        (60 * 60 * 24, "day"),
        (60 * 60, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    if seconds < 45 {
        return "just now".into();
    }
    for (size, name) in steps {
        let n = seconds / size;
        if n >= 1 {
            let plural = if n == 1 { "" } else { "s" };
            return format!("{n} {name}{plural} ago");
        }
    }
    "just now".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_hub() {
        let cases = [
            (0, "0"),
            (987, "987"),
            (1000, "1k"),
            (15_300, "15.3k"),
            (1_234_567, "1.2M"),
            (3_400_000_000, "3.4B"),
        ];
        for (n, text) in cases {
            assert_eq!(count(n), text);
        }
        assert_eq!(params(110_106_428), "110.1M");
        assert_eq!(params(22_713_216), "22.7M");
        assert_eq!(params(7_241_732_096), "7.2B");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(110_106_428), "110,106,428");
    }

    #[test]
    fn picture_sizes_read_width_by_height() {
        assert_eq!(parse_picture_size("1024x768"), Some((1024, 768)));
        assert_eq!(parse_picture_size(" 512 × 512 "), Some((512, 512)));
        assert_eq!(parse_picture_size("0x512"), None);
        assert_eq!(parse_picture_size("512"), None);
        assert_eq!(parse_picture_size("axb"), None);
    }

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(bytes(345), "345 B");
        assert_eq!(bytes(440_473_133), "440.5 MB");
        assert_eq!(bytes(1_340_000_000), "1.34 GB");
        assert_eq!(bytes(4_081_004_224), "4.08 GB");
    }

    #[test]
    fn times_are_relative() {
        let now = DateTime::parse_from_rfc3339("2025-01-22T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cases = [
            ("2025-01-22T17:59:50.000Z", "just now"),
            ("2025-01-22T17:55:00Z", "5 minutes ago"),
            ("2025-01-21T18:00:00Z", "1 day ago"),
            ("2024-02-19T11:06:12.000Z", "11 months ago"),
            ("2022-03-02T23:29:04.000Z", "2 years ago"),
            ("2026-01-01T00:00:00Z", "in the future"),
            ("not a date", "not a date"),
        ];
        for (ts, text) in cases {
            assert_eq!(relative_time(ts, now), text, "{ts}");
        }
    }
}
