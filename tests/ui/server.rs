//! The Server page: the switch starts `hubble serve` inside the app on 127.0.0.1, a client's
//! request shows in the live log, and the switch stops it.

use crate::support::http;
use crate::support::ui;

use std::net::TcpStream;
use std::time::Duration;

use egui_kittest::kittest::Queryable;
use http::http_request;
use ui::{app, config, harness, has_label, has_label_containing, wait_for};

#[test]
fn the_switch_serves_and_the_log_shows_requests() {
    let home = tempfile::tempdir().unwrap();
    let mut harness = harness(config("http://127.0.0.1:9", home.path(), true));
    harness.step();
    harness.get_by_label("Server").click();
    wait_for(&mut harness, "the Server page", |h| {
        has_label(h, "Start serving")
    });
    harness
        .state_mut()
        .as_mut()
        .unwrap()
        .server_page_mut()
        .set_port(0);
    harness.get_by_label("Start serving").click();
    wait_for(&mut harness, "the running server", |h| {
        has_label(h, "Serving")
    });
    let base_url = app(&harness).server_page().base_url().expect("running");
    let address = base_url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/v1"))
        .unwrap()
        .to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(has_label(&harness, &base_url));

    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let get =
        |path: &str| http_request(port, "GET", path, &[], &[], Duration::from_secs(10)).unwrap();
    let answer = get("/v1/models");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer.text().contains("\"object\":\"list\""),
        "{}",
        answer.text()
    );
    let missing = get("/v1/nothing-here");
    assert_eq!(missing.status, 404, "{}", missing.text());
    wait_for(&mut harness, "both requests in the log", |h| {
        has_label(h, "GET /v1/models") && has_label(h, "GET /v1/nothing-here")
    });
    assert!(has_label_containing(&harness, "0 models"));

    harness.get_by_label("Serving").click();
    wait_for(&mut harness, "the stopped server", |h| {
        has_label(h, "Start serving")
    });
    assert!(
        TcpStream::connect(&address).is_err(),
        "still listening on {address}"
    );
}
