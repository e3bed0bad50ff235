use super::*;
use std::collections::HashMap;

struct FakeEnv(HashMap<&'static str, String>);

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn home(&self) -> Option<PathBuf> {
        Some(PathBuf::from("/home/ada"))
    }
}

/// Environment variables of one test case.
type Vars<'a> = &'a [(&'static str, &'a str)];

fn env(vars: &[(&'static str, &str)]) -> FakeEnv {
    FakeEnv(vars.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

#[test]
fn paths_follow_huggingface_hub_precedence() {
    // (environment, expected HF_HOME, expected hub cache, expected token path)
    let cases: &[(Vars, &str, &str, &str)] = &[
        (
            &[],
            "/home/ada/.cache/huggingface",
            "/home/ada/.cache/huggingface/hub",
            "/home/ada/.cache/huggingface/token",
        ),
        (
            &[("XDG_CACHE_HOME", "/xdg")],
            "/xdg/huggingface",
            "/xdg/huggingface/hub",
            "/xdg/huggingface/token",
        ),
        (
            &[("HF_HOME", "~/hf"), ("XDG_CACHE_HOME", "/xdg")],
            "/home/ada/hf",
            "/home/ada/hf/hub",
            "/home/ada/hf/token",
        ),
        (
            &[("HF_HOME", "/h"), ("HUGGINGFACE_HUB_CACHE", "/legacy")],
            "/h",
            "/legacy",
            "/h/token",
        ),
        (
            &[
                ("HF_HUB_CACHE", "/new"),
                ("HUGGINGFACE_HUB_CACHE", "/legacy"),
            ],
            "/home/ada/.cache/huggingface",
            "/new",
            "/home/ada/.cache/huggingface/token",
        ),
        (
            &[("HF_HOME", "/h"), ("HF_TOKEN_PATH", "~/secret")],
            "/h",
            "/h/hub",
            "/home/ada/secret",
        ),
        (
            &[("HF_HOME", "~")],
            "/home/ada",
            "/home/ada/hub",
            "/home/ada/token",
        ),
        (
            &[("HF_HOME", "~bob/hf")],
            "~bob/hf",
            "~bob/hf/hub",
            "~bob/hf/token",
        ),
    ];
    for (vars, home, cache, token_path) in cases {
        let config = HubConfig::resolve(&env(vars), &Overrides::default());
        assert_eq!(config.hf_home, PathBuf::from(home), "{vars:?}");
        assert_eq!(config.hub_cache, PathBuf::from(cache), "{vars:?}");
        assert_eq!(config.token_path, PathBuf::from(token_path), "{vars:?}");
    }
}

#[test]
fn endpoint_defaults_strips_slash_and_yields_to_flag() {
    let cases: &[(Vars, Option<&str>, &str)] = &[
        (&[], None, "https://huggingface.co"),
        (
            &[("HF_ENDPOINT", "http://mirror:8090/")],
            None,
            "http://mirror:8090",
        ),
        (
            &[("HF_ENDPOINT", "http://mirror:8090")],
            Some("http://127.0.0.1:1//"),
            "http://127.0.0.1:1",
        ),
    ];
    for (vars, flag, expected) in cases {
        let overrides = Overrides {
            endpoint: flag.map(str::to_string),
            ..Overrides::default()
        };
        assert_eq!(
            HubConfig::resolve(&env(vars), &overrides).endpoint,
            *expected
        );
    }
}

#[test]
fn offline_accepts_exactly_the_python_true_values() {
    let cases = [
        ("1", true),
        ("ON", true),
        ("on", true),
        ("YES", true),
        ("True", true),
        ("0", false),
        ("false", false),
        ("", false),
        ("y", false),
        ("2", false),
    ];
    for (value, expected) in cases {
        let config = HubConfig::resolve(&env(&[("HF_HUB_OFFLINE", value)]), &Overrides::default());
        assert_eq!(config.offline, expected, "HF_HUB_OFFLINE={value:?}");
    }
    let legacy = HubConfig::resolve(
        &env(&[("TRANSFORMERS_OFFLINE", "1")]),
        &Overrides::default(),
    );
    assert!(legacy.offline);
    let flag = Overrides {
        offline: true,
        ..Overrides::default()
    };
    assert!(HubConfig::resolve(&env(&[("HF_HUB_OFFLINE", "0")]), &flag).offline);
}

/// Environment, explicit flag, expected token, expected source.
type TokenCase<'a> = (
    Vars<'a>,
    Option<&'a str>,
    Option<&'a str>,
    Option<TokenSource>,
);

#[test]
fn token_precedence_and_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "hf_file\r\n").unwrap();
    let path = token_file.to_str().unwrap().to_string();
    let p = path.as_str();
    let cases: &[TokenCase] = &[
        (
            &[("HF_TOKEN_PATH", p)],
            None,
            Some("hf_file"),
            Some(TokenSource::File),
        ),
        (
            &[("HF_TOKEN_PATH", p), ("HF_TOKEN", " hf_env \n")],
            None,
            Some("hf_env"),
            Some(TokenSource::Environment),
        ),
        (
            &[
                ("HF_TOKEN_PATH", p),
                ("HF_TOKEN", ""),
                ("HUGGING_FACE_HUB_TOKEN", "hf_old"),
            ],
            None,
            Some("hf_old"),
            Some(TokenSource::Environment),
        ),
        (
            &[("HF_TOKEN_PATH", p), ("HF_TOKEN", "hf_env")],
            Some("hf_flag"),
            Some("hf_flag"),
            Some(TokenSource::Explicit),
        ),
        (
            &[
                ("HF_TOKEN_PATH", p),
                ("HF_TOKEN", "hf_env"),
                ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1"),
            ],
            None,
            None,
            None,
        ),
        (
            &[
                ("HF_TOKEN_PATH", p),
                ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "yes"),
            ],
            Some("hf_flag"),
            Some("hf_flag"),
            Some(TokenSource::Explicit),
        ),
        (&[("HF_TOKEN_PATH", "/nonexistent/token")], None, None, None),
        (
            &[("HF_TOKEN_PATH", "/nonexistent/token"), ("HF_TOKEN", "  ")],
            None,
            None,
            None,
        ),
    ];
    for (vars, flag, token, source) in cases {
        let overrides = Overrides {
            token: flag.map(str::to_string),
            ..Overrides::default()
        };
        let config = HubConfig::resolve(&env(vars), &overrides);
        assert_eq!(config.token.as_deref(), *token, "{vars:?} {flag:?}");
        assert_eq!(config.token_source, *source, "{vars:?} {flag:?}");
    }
}

#[test]
fn cache_dir_flag_wins_and_timeouts_parse() {
    let overrides = Overrides {
        cache_dir: Some(PathBuf::from("/flag")),
        ..Overrides::default()
    };
    let config = HubConfig::resolve(
        &env(&[
            ("HF_HUB_CACHE", "/env"),
            ("HF_HUB_ETAG_TIMEOUT", "2.5"),
            ("HF_HUB_DOWNLOAD_TIMEOUT", "x"),
        ]),
        &overrides,
    );
    assert_eq!(config.hub_cache, PathBuf::from("/flag"));
    assert_eq!(config.metadata_timeout, Duration::from_millis(2500));
    assert_eq!(config.download_timeout, Duration::from_secs(10));
}

#[test]
fn debug_output_never_shows_the_token() {
    let overrides = Overrides {
        token: Some("hf_secret".into()),
        ..Overrides::default()
    };
    let config = HubConfig::resolve(&env(&[]), &overrides);
    let shown = format!("{config:?}{}", serde_json::to_string(&config).unwrap());
    assert!(!shown.contains("hf_secret"), "{shown}");
}
