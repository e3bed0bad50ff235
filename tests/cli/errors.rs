//! Every error kind reaches the command line as a clear message and a non-zero exit status,
//! and the client survives slow, failing and rate-limiting servers.

use crate::support::cli;

use std::time::Duration;

use cli::{hubble, hubble_at};
use fixture_hub::{Faults, FixtureHub};

const NOT_FOUND: i32 = 3;
const ACCESS: i32 = 4;
const NETWORK: i32 = 5;

fn run(hub: &FixtureHub, args: &[&str], env: &[(&str, &str)]) -> cli::Run {
    hubble_at(&hub.url(), args, env)
}

/// Arguments, exit status, words the message must contain, JSON error kind.
type ErrorCase = (
    &'static [&'static str],
    i32,
    &'static [&'static str],
    &'static str,
);

#[test]
fn missing_repo_revision_and_entry_have_clear_messages() {
    let hub = FixtureHub::start();
    let cases: &[ErrorCase] = &[
        (
            &["info", "nobody/nothing-here"],
            NOT_FOUND,
            &["nobody/nothing-here was not found", "give Hubble a token"],
            "repo_not_found",
        ),
        (
            &["--token", "hf_x", "info", "nobody/nothing-here"],
            NOT_FOUND,
            &["was not found", "make sure your token can read it"],
            "repo_not_found",
        ),
        (
            &[
                "info",
                "google-bert/bert-base-uncased",
                "--revision",
                "no-such-branch",
            ],
            NOT_FOUND,
            &["Revision \"no-such-branch\" was not found in google-bert/bert-base-uncased"],
            "revision_not_found",
        ),
        (
            &[
                "--token",
                "revoked-token",
                "info",
                "google-bert/bert-base-uncased",
            ],
            ACCESS,
            &["The Hub rejected your token", "/settings/tokens"],
            "unauthorized",
        ),
        (
            &["card", "hubble-tests/many-files"],
            NOT_FOUND,
            &["README.md does not exist in hubble-tests/many-files at revision \"main\""],
            "entry_not_found",
        ),
        (
            &["info", "not//valid"],
            2,
            &["not a valid repository id"],
            "",
        ),
    ];
    for (args, status, words, kind) in cases {
        let result = run(&hub, args, &[]);
        assert_eq!(result.status, Some(*status), "{args:?}: {}", result.stderr);
        for word in *words {
            assert!(
                result.stderr.contains(word),
                "{args:?}: {:?} lacks {word:?}",
                result.stderr
            );
        }
        if !kind.is_empty() {
            let mut json_args = args.to_vec();
            json_args.push("--json");
            let result = run(&hub, &json_args, &[]);
            let error: serde_json::Value = serde_json::from_str(result.stderr.trim())
                .unwrap_or_else(|e| {
                    panic!("{args:?}: stderr is not JSON ({e}): {}", result.stderr)
                });
            assert_eq!(error["error"]["kind"], *kind, "{args:?}");
            assert!(result.stdout.is_empty());
        }
    }
}

#[test]
fn gated_repo_says_where_to_accept_the_terms() {
    let hub = FixtureHub::start();
    let result = run(&hub, &["card", "hubble-tests/gated-model"], &[]);
    assert_eq!(result.status, Some(ACCESS), "{}", result.stderr);
    let expected_url = format!("{}/hubble-tests/gated-model", hub.url());
    assert!(result.stderr.contains("is gated"), "{}", result.stderr);
    assert!(result.stderr.contains(&expected_url), "{}", result.stderr);
    assert!(result.stderr.contains("token"), "{}", result.stderr);
    let json = run(&hub, &["card", "hubble-tests/gated-model", "--json"], &[]);
    assert!(json.stderr.contains("\"gated_repo\""), "{}", json.stderr);
}

#[test]
fn offline_mode_refuses_the_network_with_a_hint() {
    let hub = FixtureHub::start();
    for env in [&[("HF_HUB_OFFLINE", "1")][..], &[]] {
        let mut args = vec!["search", "bert"];
        if env.is_empty() {
            args.insert(0, "--offline");
        }
        let result = run(&hub, &args, env);
        assert_eq!(result.status, Some(NETWORK), "{}", result.stderr);
        assert!(
            result.stderr.contains("Offline mode is on"),
            "{}",
            result.stderr
        );
    }
    assert!(
        hub.requests().is_empty(),
        "offline mode must not touch the network"
    );
}

#[test]
fn a_dead_server_is_a_connection_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let result = hubble(home.path(), &["--endpoint", &endpoint, "info", "a/b"], &[]);
    assert_eq!(result.status, Some(NETWORK), "{}", result.stderr);
    assert!(
        result.stderr.contains("Could not connect"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_stalled_server_times_out_instead_of_hanging() {
    let hub = FixtureHub::start();
    hub.set_faults(Faults {
        stall: true,
        ..Faults::default()
    });
    let result = run(
        &hub,
        &["info", "google-bert/bert-base-uncased"],
        &[("HF_HUB_ETAG_TIMEOUT", "1")],
    );
    assert_eq!(result.status, Some(NETWORK), "{}", result.stderr);
    assert!(
        result.stderr.contains("did not answer within 1 s"),
        "{}",
        result.stderr
    );
    // One try and two retries of 1 s each, plus 0.5 s + 1 s of backoff.
    assert!(
        result.elapsed < Duration::from_secs(15),
        "{:?}",
        result.elapsed
    );
    assert_eq!(hub.requests().len(), 3, "timeouts are retried twice");
}

#[test]
fn rate_limits_are_waited_out_when_short_and_reported_when_long() {
    let hub = FixtureHub::start();
    hub.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let result = run(&hub, &["search", "bert", "--json"], &[]).ok();
    assert!(
        result.elapsed >= Duration::from_secs(1),
        "{:?}",
        result.elapsed
    );
    assert_eq!(hub.requests().len(), 2, "one 429, then the retry");
    assert!(!result.json().as_array().unwrap().is_empty());

    hub.clear_requests();
    hub.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 3600,
        ..Faults::default()
    });
    let result = run(&hub, &["search", "bert"], &[]);
    assert_eq!(result.status, Some(NETWORK), "{}", result.stderr);
    assert!(result.stderr.contains("rate-limiting"), "{}", result.stderr);
    assert!(
        result.stderr.contains("retry in 3600 s"),
        "{}",
        result.stderr
    );
    assert_eq!(hub.requests().len(), 1, "an hour's wait is not waited out");
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times() {
    let hub = FixtureHub::start();
    hub.set_faults(Faults {
        fail_next: 2,
        fail_status: 503,
        ..Faults::default()
    });
    run(
        &hub,
        &["info", "google-bert/bert-base-uncased", "--json"],
        &[],
    )
    .ok();
    let api_calls = hub
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/models/google-bert"))
        .count();
    assert!(api_calls >= 3, "two 503s then success: {api_calls}");

    hub.clear_requests();
    hub.set_faults(Faults {
        fail_next: 100,
        fail_status: 501,
        ..Faults::default()
    });
    let result = run(&hub, &["info", "google-bert/bert-base-uncased"], &[]);
    assert_eq!(result.status, Some(NETWORK), "{}", result.stderr);
    assert!(
        result.stderr.contains("server error (501)"),
        "{}",
        result.stderr
    );
    assert_eq!(hub.requests().len(), 1, "501 is not worth retrying");
}

/// `hubble system --json | head`, with the reader gone before the first line: the command ends
/// quietly (no "failed printing to stdout: Broken pipe" panic), as ripgrep and the coreutils do.
#[cfg(unix)]
#[test]
fn a_closed_pipe_on_stdout_ends_quietly() {
    let home = tempfile::tempdir().unwrap();
    let output = cli::hubble_into_closed_pipe(
        home.path(),
        &["system", "--json"],
        &[("HF_HUB_OFFLINE", "1")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "a panic's exit status");
}
