//! `fixture-hub [--port N] [--gated-token T] [--bench-repos] [--throttle BYTES_PER_SEC]`: runs the
//! fixture hub in the foreground until killed, after printing `listening on http://127.0.0.1:PORT`.
//!
//! `--synthetic N` adds N synthetic search results (`hubble-synthetic/model-NNNNN`) for the desktop
//! app's benchmark (scripts/bench-ui.sh).
//!
//! `--bench-repos` adds the download benchmark's repos (scripts/bench-download.sh):
//! `hubble-bench/single-1g` (one 1,000,000,000-byte virtual LFS file) and `hubble-bench/many-40`
//! (40 virtual LFS files of 25,000,000 bytes, 1 GB in all).

use std::io::Write;
use std::process::ExitCode;

use fixture_hub::{FixtureHub, HubOptions, Repo, RepoFile};

const USAGE: &str = "usage: fixture-hub [--port N] [--gated-token T] [--bench-repos] [--throttle BYTES_PER_SEC] [--synthetic N]";

/// The download benchmark's repositories (see the module docs).
fn bench_repos() -> Vec<Repo> {
    let single = Repo {
        files: vec![RepoFile::virtual_lfs("model.bin", 1_000_000_000, 11)],
        ..Repo::new("hubble-bench/single-1g")
    };
    let many = Repo {
        files: (0..40)
            .map(|i| RepoFile::virtual_lfs(&format!("shard-{i:02}.bin"), 25_000_000, 100 + i))
            .collect(),
        ..Repo::new("hubble-bench/many-40")
    };
    vec![single, many]
}

fn main() -> ExitCode {
    let mut options = HubOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--bench-repos" {
            options.repos.extend(bench_repos());
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--synthetic", Some(count)) => match count.parse() {
                Ok(count) => options.repos.extend(fixture_hub::synthetic_repos(count)),
                Err(_) => return usage_error(&format!("invalid count: {count}")),
            },
            ("--throttle", Some(rate)) => match rate.parse() {
                Ok(rate) => options.throttle_bytes_per_sec = Some(rate),
                Err(_) => return usage_error(&format!("invalid rate: {rate}")),
            },
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
