//! Wire behaviour: keep-alive, malformed requests, recording, faults, run-time repos, shutdown.

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fixture_hub::{Faults, FixtureHub, HubOptions, Repo, RepoFile};

use crate::client::{connect, get, get_with, read_response, write_request};

fn empty_hub() -> FixtureHub {
    FixtureHub::start_with(HubOptions {
        repos: vec![Repo {
            files: vec![RepoFile::new("a.txt", "hello\n")],
            ..Repo::new("org/one")
        }],
        ..HubOptions::default()
    })
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let hub = empty_hub();
    let mut stream = connect(&hub.url());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    write_request(
        &mut stream,
        "GET",
        "/org/one/resolve/main/a.txt",
        &[],
        false,
    );
    let first = read_response(&mut reader, false);
    assert_eq!(first.header("connection"), Some("keep-alive"));
    assert_eq!(first.body, b"hello\n");
    // Pipelined: two requests written at once, answered in order.
    write_request(
        &mut stream,
        "HEAD",
        "/org/one/resolve/main/a.txt",
        &[],
        false,
    );
    write_request(&mut stream, "GET", "/api/models/org/one", &[], true);
    let head = read_response(&mut reader, true);
    assert_eq!(head.status, 200);
    let info = read_response(&mut reader, false);
    assert_eq!(info.json()["id"], "org/one");
    assert_eq!(info.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut rest).unwrap(),
        0,
        "closed after Connection: close"
    );
}

#[test]
fn malformed_requests_get_400_and_the_server_survives() {
    let hub = empty_hub();
    for raw in [
        "GARBAGE\r\n\r\n",
        "GET /x HTTP/1.1\r\nno-colon-here\r\n\r\n",
        "GET relative HTTP/1.1\r\n\r\n",
        "GET /%ZZ HTTP/1.1\r\n\r\n",
    ] {
        let mut stream = connect(&hub.url());
        stream.write_all(raw.as_bytes()).unwrap();
        let r = read_response(&mut BufReader::new(stream), false);
        assert_eq!(r.status, 400, "{raw:?}");
        assert_eq!(r.header("x-powered-by"), Some("huggingface-moon"));
        assert_eq!(r.header("connection"), Some("close"));
    }
    let mut stream = connect(&hub.url());
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000));
    let _ = stream.write_all(huge.as_bytes());
    assert_eq!(
        read_response(&mut BufReader::new(stream), false).status,
        431
    );
    let post = crate::client::send(
        &hub.url(),
        "POST",
        "/api/models",
        &[("Content-Length", "0")],
    );
    assert_eq!(post.status, 405);
    assert_eq!(get(&hub.url(), "/api/models/org/one").status, 200);
    assert_eq!(get(&hub.url(), "/nowhere").status, 404);
}

#[test]
fn common_headers_are_on_every_response() {
    let hub = empty_hub();
    for target in [
        "/api/models/org/one",
        "/nowhere",
        "/api/models/x/y",
        "/org/one/resolve/main/a.txt",
    ] {
        let r = get(&hub.url(), target);
        assert!(
            r.header("x-request-id").unwrap().starts_with("Root=1-"),
            "{target}"
        );
        assert_eq!(r.header("x-powered-by"), Some("huggingface-moon"));
        assert!(
            r.header("access-control-expose-headers")
                .unwrap()
                .contains("X-Linked-Size")
        );
    }
}

#[test]
fn requests_are_recorded_in_order() {
    let hub = empty_hub();
    get_with(
        &hub.url(),
        "/api/models?filter=a%3Ab&filter=c&search=x+y&expand%5B%5D=likes",
        &[("Authorization", "Bearer hf_x"), ("X-Custom", "1")],
    );
    crate::client::send(&hub.url(), "HEAD", "/org/one/resolve/main/dir%2Fa.txt", &[]);
    let requests = hub.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/api/models");
    assert_eq!(
        first.raw_target,
        "/api/models?filter=a%3Ab&filter=c&search=x+y&expand%5B%5D=likes"
    );
    assert_eq!(first.query_all("filter"), ["a:b", "c"]);
    assert_eq!(first.query_all("search"), ["x y"]);
    assert_eq!(first.query_all("expand[]"), ["likes"]);
    assert_eq!(first.header("Authorization"), Some("Bearer hf_x"));
    assert!(
        first
            .headers
            .iter()
            .any(|(n, v)| n == "x-custom" && v == "1")
    );
    assert_eq!(requests[1].method, "HEAD");
    assert_eq!(requests[1].path, "/org/one/resolve/main/dir/a.txt");
    hub.clear_requests();
    assert!(hub.requests().is_empty());
}

#[test]
fn rate_limit_then_failures_then_normal() {
    let hub = empty_hub();
    hub.set_faults(Faults {
        rate_limit_next: 2,
        retry_after_secs: 7,
        fail_next: 1,
        fail_status: 503,
        ..Faults::default()
    });
    for _ in 0..2 {
        let r = get(&hub.url(), "/api/models/org/one");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.header("ratelimit"), Some("\"api\";r=0;t=7"));
        assert_eq!(
            r.header("ratelimit-policy"),
            Some("\"fixed window\";\"api\";q=500;w=300")
        );
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("You have exceeded the rate limit")
        );
    }
    let failed = get(&hub.url(), "/org/one/resolve/main/a.txt");
    assert_eq!(failed.status, 503);
    assert!(failed.json()["error"].is_string());
    assert_eq!(get(&hub.url(), "/api/models/org/one").status, 200);
    assert_eq!(hub.requests().len(), 4);
}

#[test]
fn stall_reads_the_request_and_never_answers() {
    let hub = empty_hub();
    hub.set_faults(Faults {
        stall: true,
        ..Faults::default()
    });
    let mut stream = TcpStream::connect(hub.url().strip_prefix("http://").unwrap()).unwrap();
    write_request(&mut stream, "GET", "/api/models/org/one", &[], true);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1];
    let err = stream.read(&mut buf).expect_err("no answer while stalled");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(hub.requests().len(), 1, "the stalled request is recorded");
    hub.set_faults(Faults::default());
    assert_eq!(get(&hub.url(), "/api/models/org/one").status, 200);
}

#[test]
fn repos_can_be_added_and_replaced_at_run_time() {
    let hub = empty_hub();
    assert_eq!(get(&hub.url(), "/api/models/org/two").status, 401);
    hub.add_repo(Repo {
        files: vec![RepoFile::new("b.txt", "two\n")],
        info_extra: serde_json::json!({ "likes": 5, "pipeline_tag": "fill-mask" }),
        ..Repo::new("org/two")
    });
    let info = get(&hub.url(), "/api/models/org/two").json();
    assert_eq!(info["likes"], 5);
    assert_eq!(
        get(&hub.url(), "/org/two/resolve/main/b.txt").body,
        b"two\n"
    );
    let listed = get(&hub.url(), "/api/models?pipeline_tag=fill-mask").json();
    assert_eq!(listed[0]["id"], "org/two");
    hub.add_repo(Repo::new("org/two"));
    assert_eq!(get(&hub.url(), "/org/two/resolve/main/b.txt").status, 404);
}

#[test]
fn dropping_the_hub_closes_its_port_and_connections() {
    let hub = empty_hub();
    hub.set_faults(Faults {
        stall: true,
        ..Faults::default()
    });
    let url = hub.url();
    let mut stalled = connect(&url);
    write_request(&mut stalled, "GET", "/api/models/org/one", &[], false);
    while hub.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(hub);
    let mut buf = [0u8; 1];
    assert!(matches!(stalled.read(&mut buf), Ok(0) | Err(_)));
    assert!(TcpStream::connect(url.strip_prefix("http://").unwrap()).is_err());
}
