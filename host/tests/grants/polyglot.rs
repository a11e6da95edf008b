//! Grants from Python and JavaScript: the polyglot fixtures (world `pier-plugin-granted`)
//! fetch a granted page over `wasi:http` (JavaScript with plain `fetch()`), are refused
//! one outside their grants in pier's words, and read sidecar values and operator secrets
//! through `wasi:config/store`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_plugins_fetch_within_their_grants_and_read_their_config() {
    let web = Web::start().await;
    let other = Web::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "py-s3cret\n").unwrap();
    let sidecar = |greeting: &str| {
        format!(
            "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n[config]\ngreeting = \"{greeting}\"\n",
            web.port
        )
    };
    let dir = PluginDir::new()
        .with(&fixture("py-shout"), "py")
        .with(&fixture("js-reverse"), "js")
        .with_sidecar("py", &sidecar("ahoy"))
        .with_sidecar("js", &sidecar("hej"));
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = true;
    let mut layers = pier::config::Layers::default();
    layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            &format!(
                "[secrets.py]\ntoken = {{ file = \"{}\" }}\n",
                token.display()
            ),
        )
        .unwrap();
    config.grants.secrets = layers.build().unwrap().grants.secrets;
    let app = App::start(&config).await.expect("pier starts");
    assert!(app.refused().is_empty(), "{:?}", app.refused());
    let (client, _) = connect(&app).await;

    for (tool, url) in [("py_get", web.url("/json")), ("js_fetch", web.url("/json"))] {
        let result = call(&client, tool, json!({"url": url})).await.unwrap();
        assert_eq!(result.is_error, Some(false), "{tool}");
        assert_eq!(text_of(&result), "200 {\"hello\":\"world\"}", "{tool}");
    }
    let missing = call(&client, "py_get", json!({"url": web.url("/missing")}))
        .await
        .unwrap();
    assert_eq!(text_of(&missing), "404 no such page");
    assert_eq!(web.hits(), 3);

    // A port outside the grants: refused before any connection, in pier's words first.
    for (plugin, tool, guest_error) in [
        (
            "py",
            "py_get",
            "request failed: ErrorCode_HttpRequestDenied",
        ),
        ("js", "js_fetch", JS_DENIED),
    ] {
        let result = call(&client, tool, json!({"url": other.url("/json")}))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(true), "{tool}");
        assert_eq!(
            text_of(&result),
            format!(
                "plugin `{plugin}` may not reach http://127.0.0.1:{}: not in its [grants] http\n{guest_error}",
                other.port
            ),
        );
    }
    assert_eq!(other.hits(), 0, "no connection was made");
    let text = metrics(&app);
    for (plugin, outcome, count) in [("py", "ok", 2), ("js", "ok", 1)] {
        let line = format!(
            "pier_egress_requests_total{{plugin=\"{plugin}\",host=\"127.0.0.1\",outcome=\"{outcome}\"}} {count}"
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    for plugin in ["py", "js"] {
        let line = format!(
            "pier_egress_requests_total{{plugin=\"{plugin}\",host=\"other\",outcome=\"denied\"}} 1"
        );
        assert!(text.contains(&line), "{line} in {text}");
    }

    for (tool, key, value) in [
        ("py_setting", "greeting", "ahoy"),
        ("py_setting", "token", "py-s3cret"),
        ("py_setting", "nope", "unset"),
        ("js_setting", "greeting", "hej"),
        // Secrets are per plugin: py's token is not js's.
        ("js_setting", "token", "unset"),
    ] {
        let result = call(&client, tool, json!({"key": key})).await.unwrap();
        assert_eq!(text_of(&result), value, "{tool} {key}");
    }
    let shouted = call(&client, "py_shout", json!({"text": "still here"}))
        .await
        .unwrap();
    assert_eq!(text_of(&shouted), "STILL HERE!");
}

/// What `fetch()` rejects with in componentize-js when pier refuses the request.
const JS_DENIED: &str = "request failed: TypeError: NetworkError when attempting to fetch resource";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdks_http_fetches_within_the_grants() {
    let web = Web::start().await;
    let dir = PluginDir::new()
        .with(&fixture("py-fastmcp"), "weather")
        .with_sidecar(
            "weather",
            &format!(
                "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
                web.port
            ),
        );
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = true;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    for (path, said) in [
        ("/json", "200 {\"hello\":\"world\"}"),
        ("/missing", "404 no such page"),
    ] {
        let result = call(&client, "weather_fetch", json!({"url": web.url(path)}))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false), "{path}");
        assert_eq!(text_of(&result), said);
    }
    assert_eq!(web.hits(), 2);
}
