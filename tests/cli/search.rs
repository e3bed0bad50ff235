//! `hubble search` against the fixture hub: every facet reaches the query string, and results
//! are paged through the `Link` cursor.

use crate::support::cli;

use cli::hubble_at;
use fixture_hub::FixtureHub;

fn model_list_requests(hub: &FixtureHub) -> Vec<fixture_hub::RecordedRequest> {
    hub.requests()
        .into_iter()
        .filter(|r| r.path == "/api/models")
        .collect()
}

/// CLI arguments and the query pairs they must produce.
type FacetCase = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn each_facet_is_sent_as_the_hub_expects() {
    let hub = FixtureHub::start();
    let url = hub.url();
    // (CLI arguments, expected query pairs)
    let cases: &[FacetCase] = &[
        (&["bert"], &[("search", "bert")]),
        (&["--task", "fill-mask"], &[("pipeline_tag", "fill-mask")]),
        (
            &["--library", "transformers"],
            &[("filter", "transformers")],
        ),
        (&["--license", "mit"], &[("filter", "license:mit")]),
        (&["--language", "ja"], &[("filter", "ja")]),
        (
            &["--dataset", "wikipedia"],
            &[("filter", "dataset:wikipedia")],
        ),
        (&["--author", "openai"], &[("author", "openai")]),
        (&["--gated"], &[("gated", "true")]),
        (&["--ungated"], &[("gated", "false")]),
        (
            &["--min-params", "100M", "--max-params", "7B"],
            &[("num_parameters", "min:100M,max:7B")],
        ),
        (&["--app", "llama.cpp"], &[("apps", "llama.cpp")]),
        (&["--sort", "downloads"], &[("sort", "downloads")]),
        (&["--sort", "updated"], &[("sort", "lastModified")]),
        (&["--sort", "created"], &[("sort", "createdAt")]),
        (&["--sort", "likes"], &[("sort", "likes")]),
        (
            &["--limit", "7"],
            &[("limit", "7"), ("sort", "trendingScore")],
        ),
    ];
    for (args, expected) in cases {
        hub.clear_requests();
        let mut full = vec!["search", "--json"];
        full.extend_from_slice(args);
        let run = hubble_at(&url, &full, &[]).ok();
        assert!(run.json().is_array(), "{args:?}");
        let requests = model_list_requests(&hub);
        let first = requests
            .first()
            .unwrap_or_else(|| panic!("no request for {args:?}"));
        for (key, value) in *expected {
            assert!(
                first.query_all(key).contains(value),
                "{args:?}: expected {key}={value} in {:?}",
                first.query
            );
        }
        assert!(first.query_all("expand[]").contains(&"safetensors"));
    }
}

#[test]
fn pages_are_followed_through_the_link_cursor() {
    let hub = FixtureHub::start();
    let run = hubble_at(
        &hub.url(),
        &[
            "search",
            "--limit",
            "12",
            "--page-size",
            "5",
            "--sort",
            "downloads",
            "--json",
        ],
        &[],
    )
    .ok();
    let models = run.json();
    let ids: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 12, "pages must not repeat models: {ids:?}");
    let downloads: Vec<u64> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["downloads"].as_u64().unwrap_or(0))
        .collect();
    assert!(downloads.windows(2).all(|w| w[0] >= w[1]), "{downloads:?}");

    let requests = model_list_requests(&hub);
    assert_eq!(requests.len(), 3, "12 results at 5 per page take 3 pages");
    assert!(requests[0].query_all("cursor").is_empty());
    for later in &requests[1..] {
        assert_eq!(later.query_all("cursor").len(), 1, "{:?}", later.query);
        assert_eq!(later.query_all("sort"), vec!["downloads"]);
    }
}

#[test]
fn human_output_is_a_readable_table() {
    let hub = FixtureHub::start();
    let run = hubble_at(&hub.url(), &["search", "bert-base-uncased"], &[]).ok();
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap();
    for column in [
        "MODEL",
        "TASK",
        "DOWNLOADS",
        "LIKES",
        "UPDATED",
        "PARAMS",
        "LICENSE",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines
        .find(|l| l.starts_with("google-bert/bert-base-uncased"))
        .unwrap_or_else(|| panic!("no bert row in:\n{}", run.stdout));
    assert!(row.contains("fill-mask"), "{row}");
    assert!(row.contains("110.1M"), "{row}");
    assert!(row.contains("apache-2.0"), "{row}");
    assert!(row.contains(" ago"), "{row}");
}

#[test]
fn bad_facet_values_are_refused_before_any_request() {
    let hub = FixtureHub::start();
    let run = hubble_at(&hub.url(), &["search", "--min-params", "lots"], &[]);
    assert_eq!(run.status, Some(2));
    assert!(
        run.stderr.contains("not a parameter count"),
        "{}",
        run.stderr
    );
    assert!(model_list_requests(&hub).is_empty());
}
