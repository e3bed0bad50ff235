//! What several task files share (a task file never imports another task file).

pub mod decoding;
pub mod entities;
pub mod images;
pub mod noise;

/// Writes ranked labels for a person, one `  97.12%  label` line each.
pub fn write_labels<'a>(
    out: &mut dyn std::io::Write,
    labels: impl IntoIterator<Item = &'a crate::results::LabelScore>,
) -> std::io::Result<()> {
    for label in labels {
        writeln!(out, "  {:>6.2}%  {}", label.score * 100.0, label.label)?;
    }
    Ok(())
}

/// `--labels a,b,c`: the candidate labels of the zero-shot tasks (text and image), one
/// argument they share.
pub fn candidate_labels_arg() -> clap::Arg {
    clap::Arg::new("labels")
        .long("labels")
        .value_name("A,B,C")
        .help("Zero-shot tasks: the candidate labels, comma-separated")
}
