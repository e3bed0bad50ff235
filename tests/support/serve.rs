//! `hubble serve` run for a test, and plain HTTP/1.1 requests to it.
#![allow(dead_code)] // Shared by several test binaries; each uses a part.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::http;
pub use http::{HttpResponse, http_request};

/// A running `hubble serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Server {
    /// Starts `hubble serve --port 0 --json --device cpu EXTRA` with `HF_HOME` = `home`, and
    /// waits for the address it bound (always a loopback one).
    pub fn start(home: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hubble"))
            .args(["serve", "--port", "0", "--json", "--device", "cpu"])
            .args(extra)
            .env("HF_HOME", home)
            .env_remove("HF_HUB_CACHE")
            .env_remove("HUBBLE_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hubble serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("hubble serve's first line is not JSON ({e}): {line:?}"));
        let address: std::net::SocketAddr = started["address"].as_str().unwrap().parse().unwrap();
        assert!(
            address.ip().is_loopback(),
            "bound to {address}, not loopback"
        );
        Server {
            child,
            base_url: started["base_url"].as_str().unwrap().to_string(),
            address: address.to_string(),
        }
    }

    /// Stops the server and returns its log (stderr).
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `METHOD path` with an optional JSON body to `address` (`127.0.0.1:PORT`).
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    json: Option<&serde_json::Value>,
) -> HttpResponse {
    let port: u16 = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("an address with a port");
    let body = json.map(|j| j.to_string()).unwrap_or_default();
    http_request(
        port,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
        Duration::from_secs(120),
    )
    .unwrap()
}

/// The body as JSON.
pub fn json_of(answer: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", answer.text()))
}
