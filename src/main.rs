//! The `hubble` binary: subcommands for the terminal.

// Release builds on Windows are GUI programs (no console window behind the app).
#![cfg_attr(all(windows, not(debug_assertions)), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    #[cfg(all(windows, not(debug_assertions)))]
    attach_console();
    hubble::cli::main()
}

/// A GUI-subsystem program has no console: use the terminal it was started from, if any, so the
/// subcommands' output shows there.
#[cfg(all(windows, not(debug_assertions)))]
fn attach_console() {
    use windows::Win32::System::Console::{ATTACH_PARENT_PROCESS, AttachConsole};
    // SAFETY: a plain Win32 call with a constant argument; failing means there is no parent console.
    let _ = unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
}
