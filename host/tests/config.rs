//! Configuration: precedence of defaults < file < environment < flags, and the exact
//! error for every kind of bad value.

use std::path::PathBuf;
use std::time::Duration;

use pier::cli::ServeArgs;
use pier::config::{Transport, example_toml};

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pier.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn args_with(config: &std::path::Path) -> ServeArgs {
    ServeArgs {
        config: Some(config.to_path_buf()),
        ..ServeArgs::default()
    }
}

#[test]
fn defaults_apply_when_nothing_is_set() {
    let config = ServeArgs::default().config_with_env(env(&[])).unwrap();
    assert_eq!(config.transport, Transport::Http);
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(config.plugins_dir, PathBuf::from("plugins.d"));
    assert_eq!(config.data_dir, PathBuf::from(".pier"));
    assert_eq!(config.page_size, 100);
    assert_eq!(config.default_limits.timeout, Duration::from_secs(30));
    assert_eq!(config.default_limits.memory_bytes, 64 << 20);
    assert!(!config.http.stateless);
    assert_eq!(
        config.http.allowed_hosts,
        ["localhost", "127.0.0.1", "::1", "[::1]"]
    );
}

#[test]
fn file_beats_defaults_env_beats_file_flags_beat_env() {
    let (_dir, path) = file(
        "[server]\nlisten = \"127.0.0.1:1111\"\npage-size = 7\n[plugins]\ndir = \"from-file\"\n[limits]\nmemory-mb = 128\n",
    );
    let from_file = args_with(&path).config_with_env(env(&[])).unwrap();
    assert_eq!(from_file.http.listen.to_string(), "127.0.0.1:1111");
    assert_eq!(from_file.page_size, 7);
    assert_eq!(from_file.plugins_dir, PathBuf::from("from-file"));
    assert_eq!(from_file.max_limits.memory_bytes, 128 << 20);

    let vars = env(&[
        ("PIER_SERVER_LISTEN", "127.0.0.1:2222"),
        ("PIER_PLUGINS_DIR", "from-env"),
        ("HOME", "/x"),
    ]);
    let from_env = args_with(&path).config_with_env(vars.clone()).unwrap();
    assert_eq!(from_env.http.listen.to_string(), "127.0.0.1:2222");
    assert_eq!(from_env.plugins_dir, PathBuf::from("from-env"));
    assert_eq!(
        from_env.page_size, 7,
        "keys the environment does not set keep the file's value"
    );

    let flags = ServeArgs {
        listen: Some("127.0.0.1:3333".into()),
        stateless: true,
        ..args_with(&path)
    };
    let from_flags = flags.config_with_env(vars).unwrap();
    assert_eq!(from_flags.http.listen.to_string(), "127.0.0.1:3333");
    assert_eq!(from_flags.plugins_dir, PathBuf::from("from-env"));
    assert!(from_flags.http.stateless);
}

#[test]
fn environment_values_are_parsed_by_type() {
    let vars = env(&[
        ("PIER_SERVER_STATELESS", "true"),
        (
            "PIER_SERVER_ALLOWED_ORIGINS",
            "http://a.example:*, http://b.example:8080",
        ),
        ("PIER_DEFAULTS_TIMEOUT_MS", "1500"),
        ("PIER_SERVER_TRANSPORT", "stdio"),
    ]);
    let config = ServeArgs::default().config_with_env(vars).unwrap();
    assert!(config.http.stateless);
    assert_eq!(
        config.http.allowed_origins,
        ["http://a.example:*", "http://b.example:8080"]
    );
    assert_eq!(config.default_limits.timeout, Duration::from_millis(1500));
    assert_eq!(config.transport, Transport::Stdio);
}

#[test]
fn a_non_loopback_listener_accepts_any_host_header() {
    let flags = ServeArgs {
        listen: Some("0.0.0.0:8000".into()),
        ..ServeArgs::default()
    };
    assert!(
        flags
            .config_with_env(env(&[]))
            .unwrap()
            .http
            .allowed_hosts
            .is_empty()
    );
}

fn error_of(args: ServeArgs, vars: &[(&str, &str)]) -> String {
    args.config_with_env(env(vars)).unwrap_err().to_string()
}

#[test]
fn every_bad_value_names_its_source_key_and_expectation() {
    let (_dir, path) = file("[server]\nlisten = 8000\n");
    assert_eq!(
        error_of(args_with(&path), &[]),
        format!(
            "{}: server.listen: expected \"host:port\", got 8000",
            path.display()
        )
    );
    let (_dir, path) = file("[server]\nlisten = \"127.0.0.1:1\"\nlistne = \"x\"\n");
    assert_eq!(
        error_of(args_with(&path), &[]),
        format!("{}: server.listne: unknown key", path.display())
    );
    let (_dir, path) = file("[server\n");
    assert!(
        error_of(args_with(&path), &[])
            .starts_with(&format!("{}: (file): invalid TOML: ", path.display()))
    );
    assert_eq!(
        error_of(ServeArgs::default(), &[("PIER_SERVER_STATELESS", "maybe")]),
        "environment PIER_SERVER_STATELESS: server.stateless: expected true or false, got \"maybe\""
    );
    assert_eq!(
        error_of(ServeArgs::default(), &[("PIER_SERVER_PAGE_SIZE", "0")]),
        "environment PIER_SERVER_PAGE_SIZE: server.page-size: expected an integer from 1 to 10000, got 0"
    );
    assert_eq!(
        error_of(ServeArgs::default(), &[("PIER_NOPE", "1")]),
        "environment PIER_NOPE: PIER_NOPE: unknown variable (see pier.example.toml for the keys)"
    );
    // The builders' variables are no configuration, and no mistake either.
    for name in [
        "PIER_CACHE_DIR",
        "PIER_COMPONENTIZE_PY",
        "PIER_JS_TOOLCHAIN",
    ] {
        let config = ServeArgs::default().config_with_env(vec![(name.into(), "/x".into())]);
        assert!(config.is_ok(), "{name}: {:?}", config.err());
    }
    let flags = ServeArgs {
        transport: Some("carrier-pigeon".into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        error_of(flags, &[]),
        "flag --transport: server.transport: expected one of \"http\", \"stdio\", got \"carrier-pigeon\""
    );
    let flags = ServeArgs {
        listen: Some("localhost".into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        error_of(flags, &[]),
        "flag --listen: server.listen: expected \"host:port\", got \"localhost\""
    );
    let (_dir, path) = file("[limits]\nmemory-mb = \"lots\"\n");
    assert_eq!(
        error_of(args_with(&path), &[]),
        format!(
            "{}: limits.memory-mb: expected an integer from 1 to 65536, got \"lots\"",
            path.display()
        )
    );
}

#[test]
fn the_shipped_example_documents_every_key_with_its_default() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pier.example.toml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, example_toml()).unwrap();
    }
    let shipped = std::fs::read_to_string(&path).expect("pier.example.toml exists");
    assert_eq!(
        shipped,
        example_toml(),
        "pier.example.toml is stale: rerun with UPDATE_GOLDEN=1"
    );
    let from_example = args_with(&path).config_with_env(env(&[])).unwrap();
    let defaults = ServeArgs::default().config_with_env(env(&[])).unwrap();
    assert_eq!(format!("{from_example:?}"), format!("{defaults:?}"));
}

#[test]
fn the_examples_commented_in_the_shipped_example_are_valid_once_uncommented() {
    let text = example_toml();
    let examples = &text[text.find("\n# Mounts beside").expect("the examples")..];
    let mut toml = String::new();
    for line in examples.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let key = rest.split(" = ").next().unwrap_or_default();
        let is_toml = rest.starts_with('[')
            || (rest.contains(" = ")
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.\"".contains(c)));
        if is_toml {
            toml.push_str(rest);
            toml.push('\n');
        }
    }
    assert!(
        toml.contains("[[mount.tool]]") && toml.contains("[[tools.weather]]"),
        "{toml}"
    );
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(std::path::Path::new("pier.toml"), &toml)
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let config = layers.build().unwrap();
    let namespaces: Vec<&str> = config.mounts.iter().map(|m| m.namespace.as_str()).collect();
    assert_eq!(
        namespaces,
        ["extra", "weather", "remote", "crm", "local", "pets"]
    );
    assert_eq!(
        config.mounts[1].source(),
        "registry.example.com/tools/weather:1.2.0"
    );
    assert_eq!(config.mounts[5].tools[0].rename.as_deref(), Some("pets"));
    assert_eq!(config.tools["weather"][0].name, "forecast");
    assert_eq!(config.middleware.len(), 2);
}

#[test]
fn mounts_and_the_admin_token_are_read_from_the_file() {
    let (_dir, path) = file(
        "[admin]\ntoken = \"t0k\"\n\n[[mount]]\nnamespace = \"web\"\nurl = \"http://127.0.0.1:9000/mcp\"\nmode = \"import\"\n\n[[mount]]\nnamespace = \"git\"\ncommand = \"srv\"\nargs = [\"-v\"]\n",
    );
    let config = args_with(&path).config_with_env(env(&[])).unwrap();
    assert_eq!(config.admin_token.as_deref(), Some("t0k"));
    let sources: Vec<(String, String)> = config
        .mounts
        .iter()
        .map(|m| (m.namespace.clone(), m.source()))
        .collect();
    assert_eq!(
        sources,
        [
            ("web".to_string(), "http://127.0.0.1:9000/mcp".to_string()),
            ("git".to_string(), "srv -v".to_string())
        ]
    );
    let config = args_with(&path)
        .config_with_env(env(&[("PIER_ADMIN_TOKEN", "other")]))
        .unwrap();
    assert_eq!(config.admin_token.as_deref(), Some("other"));
}

#[test]
fn a_bad_mount_is_an_error_naming_its_index_and_field() {
    let cases = [
        (
            "[[mount]]\nnamespace = \"a\"\npath = \"x.wasm\"\nurl = \"http://h/mcp\"\n",
            "mount[0].path: a mount needs exactly one of `path`, `oci`, `url`, `command`, `openapi`",
        ),
        (
            "[[mount]]\nnamespace = \"a\"\npath = \"x.wasm\"\n[[mount]]\nnamespace = \"a\"\npath = \"y.wasm\"\n",
            "mount[1].namespace: namespace `a` is used by an earlier mount",
        ),
        (
            "[[mount]]\npath = \"x.wasm\"\n",
            "mount[0].namespace: missing: every mount needs a namespace (\"\" keeps names)",
        ),
        ("mount = 3\n", "mount: expected [[mount]] tables"),
    ];
    for (text, expected) in cases {
        let (_dir, path) = file(text);
        assert_eq!(
            error_of(args_with(&path), &[]),
            format!("{}: {expected}", path.display()),
            "{text}"
        );
    }
    let (_dir, path) = file("[[mount]]\nnamespace = \"a\"\npaht = \"x\"\n");
    let error = error_of(args_with(&path), &[]);
    assert!(
        error.starts_with(&format!(
            "{}: mount[0]: unknown field `paht`",
            path.display()
        )),
        "{error}"
    );
}

#[test]
fn storage_is_sled_in_the_data_dir_unless_configured_otherwise() {
    use pier::storage::{Backend, Quota};
    let config = ServeArgs::default().config_with_env(env(&[])).unwrap();
    assert_eq!(
        config.storage,
        Backend::Sled {
            path: PathBuf::from(".pier/store"),
            flush_every: None,
            cache_bytes: 128 << 20,
        }
    );
    assert_eq!(config.default_limits.storage, Quota::default());
    assert_eq!(
        config.max_limits.storage,
        Quota {
            max_keys: 1_000_000,
            max_value_bytes: 16 << 20
        }
    );
    let (_dir, path) = file(
        "[data]\ndir = \"d\"\n[storage]\nflush-ms = 250\ncache-mib = 16\n[defaults]\nstorage-keys = 5\n",
    );
    let config = args_with(&path).config_with_env(env(&[])).unwrap();
    assert_eq!(
        config.storage,
        Backend::Sled {
            path: PathBuf::from("d/store"),
            flush_every: Some(Duration::from_millis(250)),
            cache_bytes: 16 << 20,
        }
    );
    assert_eq!(config.default_limits.storage.max_keys, 5);
    // A URL alone selects Redis.
    let config = ServeArgs::default()
        .config_with_env(env(&[("PIER_STORAGE_URL", "redis://127.0.0.1:6390/2")]))
        .unwrap();
    assert_eq!(
        config.storage,
        Backend::Redis {
            url: "redis://127.0.0.1:6390/2".into(),
            prefix: "pier:".into()
        }
    );
    let flags = ServeArgs {
        storage: Some("memory".into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        flags.config_with_env(env(&[])).unwrap().storage,
        Backend::Memory
    );
}

#[test]
fn storage_settings_that_cannot_work_are_errors() {
    let flags = |backend: &str, url: Option<&str>| ServeArgs {
        storage: Some(backend.into()),
        storage_url: url.map(String::from),
        ..ServeArgs::default()
    };
    assert_eq!(
        error_of(flags("redis", None), &[]),
        "flag --storage: storage.backend: \"redis\" needs storage.url (redis://host:port)"
    );
    assert_eq!(
        error_of(flags("sled", Some("redis://127.0.0.1:6379")), &[]),
        "flag --storage-url: storage.url: only the redis backend uses a URL, but storage.backend is \"sled\""
    );
    assert_eq!(
        error_of(flags("redis", Some("http://127.0.0.1:6379")), &[]),
        "flag --storage-url: storage.url: expected a redis://host:port URL, got \"http://127.0.0.1:6379\""
    );
    assert_eq!(
        error_of(flags("postgres", None), &[]),
        "flag --storage: storage.backend: expected one of \"sled\", \"memory\", \"redis\", got \"postgres\""
    );
    assert_eq!(
        error_of(
            ServeArgs::default(),
            &[("PIER_DEFAULTS_STORAGE_VALUE_BYTES", "0")]
        ),
        "environment PIER_DEFAULTS_STORAGE_VALUE_BYTES: defaults.storage-value-bytes: expected an integer from 1 to 536870912, got 0"
    );
}

#[test]
fn grants_and_secrets_are_read_and_a_bad_one_is_an_error_naming_it() {
    let (_dir, path) = file(
        "[grants]\nhttp = [\"https://*.example.com\", \"http://127.0.0.1:*\"]\nprivate-networks = true\n\
         [secrets.github]\ntoken = { env = \"GITHUB_TOKEN\" }\nkey = { file = \"/run/secrets/k\" }\n",
    );
    let config = args_with(&path).config_with_env(env(&[])).unwrap();
    let shown: Vec<String> = config.grants.http.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["https://*.example.com", "http://127.0.0.1:*"]);
    assert!(config.grants.private_networks);
    assert_eq!(
        format!("{:?}", config.grants.secrets["github"]),
        "{\"key\": File(\"/run/secrets/k\"), \"token\": Env(\"GITHUB_TOKEN\")}"
    );
    let defaults = ServeArgs::default().config_with_env(env(&[])).unwrap();
    assert_eq!(defaults.grants.http.len(), 1);
    assert_eq!(defaults.grants.http[0].to_string(), "*");
    assert!(!defaults.grants.private_networks);
    assert_eq!(defaults.default_limits.http.requests, 16);
    assert_eq!(defaults.default_limits.http.response_bytes, 16 << 20);

    let (_dir, path) = file("[grants]\nhttp = [\"ftp://x.org\"]\n");
    assert_eq!(
        error_of(args_with(&path), &[]),
        format!(
            "{}: grants.http: `ftp://x.org`: expected \"*\" or http://HOST[:PORT] or https://HOST[:PORT]",
            path.display()
        )
    );
    assert_eq!(
        error_of(
            ServeArgs::default(),
            &[("PIER_GRANTS_HTTP", "https://a.org/path")]
        ),
        "environment PIER_GRANTS_HTTP: grants.http: `https://a.org/path`: a grant names a scheme, a host and a port: no path, query or user"
    );
    let (_dir, path) = file("[secrets.github]\ntoken = \"in clear\"\n");
    assert_eq!(
        error_of(args_with(&path), &[]),
        format!(
            "{}: secrets.github.token: expected {{ env = \"VAR\" }} or {{ file = \"PATH\" }}",
            path.display()
        )
    );
}

/// Every test `SECURITY.md` names (`file.rs::name`, `::name` for another in the same
/// file; `src/…` under `host/`, `fuzz/…` and `bench/…` from the repository root, the
/// rest under `host/tests/`) exists: a claim's backing
/// cannot be renamed away unnoticed.
#[test]
fn every_test_security_md_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("../SECURITY.md")).unwrap();
    let mut file: Option<String> = None;
    let mut named = 0;
    for quoted in text.split('`').skip(1).step_by(2) {
        let Some((path, name)) = quoted.rsplit_once("::") else {
            continue;
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        if path.ends_with(".rs") {
            file = Some(path.to_string());
        } else if !path.is_empty() {
            continue;
        }
        let Some(path) = &file else { continue };
        let full = if path.starts_with("src/") {
            root.join(path)
        } else if path.starts_with("fuzz/") || path.starts_with("bench/") {
            root.join("..").join(path)
        } else {
            root.join("tests").join(path)
        };
        let source = std::fs::read_to_string(&full)
            .unwrap_or_else(|e| panic!("SECURITY.md names {}: {e}", full.display()));
        assert!(
            source.contains(&format!("fn {name}(")),
            "SECURITY.md names {path}::{name}, which is not there"
        );
        named += 1;
    }
    assert!(
        named > 40,
        "only {named} tests named: the parser lost its way"
    );
}
