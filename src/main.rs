//! The `hubble` binary: subcommands for the terminal.

fn main() -> std::process::ExitCode {
    hubble::cli::main()
}
