//! `fixture-hub [--port N] [--gated-token T]`: runs the fixture hub in the foreground until
//! killed, after printing `listening on http://127.0.0.1:PORT`.

use std::io::Write;
use std::process::ExitCode;

use fixture_hub::{FixtureHub, HubOptions};

const USAGE: &str = "usage: fixture-hub [--port N] [--gated-token T]";

fn main() -> ExitCode {
    let mut options = HubOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => match port.parse() {
                Ok(port) => options.port = port,
                Err(_) => return usage_error(&format!("invalid port: {port}")),
            },
            ("--gated-token", Some(token)) => options.require_token = Some(token),
            ("-h" | "--help", _) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage_error(&format!("unexpected argument: {arg}")),
        }
    }
    let hub = FixtureHub::start_with(options);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", hub.url());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("fixture-hub: {message}\n{USAGE}");
    ExitCode::from(2)
}
