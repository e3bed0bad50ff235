//! What several task files share (a task file never imports another task file).

pub mod decoding;
pub mod entities;
pub mod images;

/// `--labels a,b,c`: the candidate labels of the zero-shot tasks (text and image), one
/// argument they share.
pub fn candidate_labels_arg() -> clap::Arg {
    clap::Arg::new("labels")
        .long("labels")
        .value_name("A,B,C")
        .help("Zero-shot tasks: the candidate labels, comma-separated")
}
