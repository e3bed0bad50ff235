//! Transcript formats: a clock for display, plain text with timestamps, and SubRip (.srt).

use crate::results::Segment;

/// `m:ss.cc` (or `h:mm:ss.cc` from an hour on), for transcripts on screen and in the terminal.
pub fn clock(seconds: f64) -> String {
    let centis = (seconds.max(0.0) * 100.0).round() as u64;
    let (h, m, s, c) = (
        centis / 360_000,
        centis / 6000 % 60,
        centis / 100 % 60,
        centis % 100,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{c:02}")
    } else {
        format!("{m}:{s:02}.{c:02}")
    }
}

/// SubRip's `hh:mm:ss,mmm`.
fn srt_time(seconds: f64) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02},{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

/// The segments as SubRip subtitles: numbered blocks `start --> end` and the text, blank-line
/// separated.
pub fn to_srt(segments: &[Segment]) -> String {
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "{}\n{} --> {}\n{}\n",
                i + 1,
                srt_time(s.start),
                srt_time(s.end.max(s.start)),
                s.text.trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line per segment: `[start → end] text`.
pub fn to_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| format!("[{}] {}\n", span(s.start, s.end), s.text.trim()))
        .collect()
}

/// A stretch of time as `start → end` in [`clock`]s, as transcripts show it.
pub fn span(start: f64, end: f64) -> String {
    format!("{} → {}", clock(start), clock(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn srt_numbers_blocks_and_formats_times() {
        let srt = to_srt(&[seg(0.0, 1.5, " Hello."), seg(3661.25, 3662.0, "Bye.")]);
        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n01:01:01,250 --> 01:01:02,000\nBye.\n"
        );
        assert_eq!(to_srt(&[]), "");
    }

    #[test]
    fn clock_and_text() {
        assert_eq!(clock(0.0), "0:00.00");
        assert_eq!(clock(75.456), "1:15.46");
        assert_eq!(clock(3600.0), "1:00:00.00");
        assert_eq!(to_text(&[seg(1.0, 2.0, "hi")]), "[0:01.00 → 0:02.00] hi\n");
        assert_eq!(span(0.4, 61.5), "0:00.40 → 1:01.50");
    }
}
