//! `[auth]` tokens mode over real HTTP: the right bearer token is served, a missing or
//! wrong one is answered 401 with the exact `WWW-Authenticate` the MCP authorization
//! spec asks for, the protected resource metadata is published, the open endpoints stay
//! open; and every `[auth]` setting that cannot work is a configuration error naming it.

mod common;

use common::*;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const TOKEN: &str = "s3cret-token";
const METADATA: &str = "http://pier.test/.well-known/oauth-protected-resource/mcp";

fn tokens_file() -> String {
    tokens_file_for(TOKEN, "ci")
}

/// `[auth]` in tokens mode accepting `token` as `subject` (scope `tools:read`).
fn tokens_file_for(token: &str, subject: &str) -> String {
    format!(
        "[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\nauthorization-servers = [\"https://auth.pier.test\"]\nscopes-supported = [\"tools:read\"]\n\n[[auth.token]]\nhash = \"{}\"\nsubject = \"{subject}\"\nscopes = [\"tools:read\"]\n",
        pier::auth::hash_token(token)
    )
}

/// A server of `dir` whose `[auth]` takes `TOKEN` as `ci` and `ops-token` as `ops`
/// (with `ops_scopes`), then `extra` of `pier.toml` (rules, middleware).
async fn ci_and_ops(dir: &PluginDir, ops_scopes: &str, extra: &str, modern: bool) -> Server {
    let text = format!(
        "{}\n[[auth.token]]\nhash = \"{}\"\nsubject = \"ops\"\nscopes = [{ops_scopes}]\n\n{extra}",
        tokens_file(),
        pier::auth::hash_token("ops-token")
    );
    let configured = configured(&text).unwrap();
    let mut config = pier::ServeConfig {
        auth: configured.auth,
        middleware: configured.middleware,
        mounts: configured.mounts,
        ..dir.config()
    };
    if modern {
        config.max_protocol = rmcp::model::ProtocolVersion::V_2026_07_28;
    }
    Server::start_with(config).await
}

async fn tokens_server(dir: &PluginDir) -> Server {
    let auth = configured(&tokens_file()).unwrap().auth;
    Server::start_with(pier::ServeConfig {
        auth,
        ..dir.config()
    })
    .await
}

#[tokio::test]
async fn the_right_token_is_served_and_others_are_challenged() {
    let dir = PluginDir::examples().with(&fixture("hostile"), "hostile");
    let server = tokens_server(&dir).await;

    let missing = post(&server.url, INIT).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        format!("Bearer resource_metadata=\"{METADATA}\"").as_str()
    );
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"error": "this server needs `Authorization: Bearer <token>`"})
    );
    for wrong in [
        "Bearer not-the-token".to_string(),
        format!("Basic {TOKEN}"),
        format!("Bearer {TOKEN}x"),
        "Bearer ".to_string(),
        format!("Bearer {}", "x".repeat(64 * 1024)),
    ] {
        let refused = post(&server.url, INIT)
            .header("authorization", &wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "{wrong:.40}");
        assert_eq!(
            refused.headers()["www-authenticate"],
            format!("Bearer resource_metadata=\"{METADATA}\", error=\"invalid_token\"").as_str()
        );
    }

    // A real client with the token: served as ever.
    let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str())
        .auth_header(TOKEN.to_string());
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let tools = client.peer().list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "hello_greet"), "{tools:?}");
    let params = rmcp::model::CallToolRequestParams::new("hello_greet")
        .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone());
    let result = client.peer().call_tool(params).await.unwrap();
    assert_eq!(text(&result), "Hello, Ada!");
    // The plugin sees who called, never the token.
    let params = rmcp::model::CallToolRequestParams::new("hostile_whoami");
    let result = client.peer().call_tool(params).await.unwrap();
    assert!(
        text(&result).ends_with(" subject=ci scopes=tools:read"),
        "{}",
        text(&result)
    );

    // The open endpoints need no token.
    let http = reqwest::Client::new();
    for path in ["/health", "/ready", "/metrics"] {
        let open = http
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(open.status(), 200, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_protected_resource_metadata_is_published() {
    let dir = PluginDir::new();
    let server = tokens_server(&dir).await;
    let expected = json!({
        "resource": "http://pier.test/mcp",
        "authorization_servers": ["https://auth.pier.test"],
        "scopes_supported": ["tools:read"],
        "bearer_methods_supported": ["header"]
    });
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let answer = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.json::<Value>().await.unwrap(), expected, "{path}");
    }
    server.shutdown().await;

    // Without auth there is nothing to publish, and /mcp serves anyone.
    let open = Server::start(&dir, |_| {}).await;
    let answer = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource",
        open.base
    ))
    .await
    .unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(post(&open.url, INIT).send().await.unwrap().status(), 200);
    open.shutdown().await;
}

#[test]
fn auth_settings_that_cannot_work_are_errors_naming_them() {
    let hash = pier::auth::hash_token(TOKEN);
    for (text, error) in [
        (
            "[[auth.rule]]\ntools = [\"calc_*\"]\n".to_string(),
            "pier.toml: auth.rule[0]: requires nothing: give it scopes = [...] and/or subjects = [...]",
        ),
        (
            "[[auth.rule]]\ntool = [\"calc_*\"]\nscopes = [\"x\"]\n".to_string(),
            "pier.toml: auth.rule[0]: unknown field `tool`, expected one of `tools`, `prompts`, `resources`, `tags`, `mounts`, `scopes`, `subjects`",
        ),
        (
            "[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\n".to_string(),
            "pier.toml: auth.mode: tokens needs at least one [[auth.token]] (hash = \"sha256:…\", subject, scopes)",
        ),
        (
            format!("[auth]\nmode = \"tokens\"\n\n[[auth.token]]\nhash = \"{hash}\"\nsubject = \"ci\"\n"),
            "default: auth.resource: needed when auth.mode is not none: this server's canonical URI, e.g. \"https://mcp.example.com/mcp\"",
        ),
        (
            "[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\n\n[[auth.token]]\nhash = \"s3cret\"\nsubject = \"ci\"\n".to_string(),
            "pier.toml: auth.token[0].hash: expected \"sha256:\" and 64 hex digits (`pier auth hash-token` prints it)",
        ),
        (
            format!("[auth]\nmode = \"tokens\"\nresource = \"http://pier.test/mcp\"\n\n[[auth.token]]\nhash = \"{hash}\"\nsubject = \" \"\n"),
            "pier.toml: auth.token[0].subject: empty: name who the token stands for",
        ),
        (
            format!("[[auth.token]]\nhash = \"{hash}\"\nsubject = \"a\"\n\n[[auth.token]]\nhash = \"{hash}\"\nsubject = \"b\"\n"),
            "pier.toml: auth.token[1].hash: the same token as an earlier [[auth.token]]",
        ),
        (
            format!("[[auth.token]]\nhash = \"{hash}\"\nsubject = \"a\"\ntoken = \"{TOKEN}\"\n"),
            "pier.toml: auth.token[0]: unknown field `token`, expected one of `hash`, `subject`, `scopes`",
        ),
        (
            "[auth]\nmode = \"magic\"\n".to_string(),
            "pier.toml: auth.mode: expected one of \"none\", \"tokens\", \"jwt\", got \"magic\"",
        ),
    ] {
        assert_eq!(configured(&text).unwrap_err(), error, "{text}");
    }
    let config = configured(&tokens_file()).unwrap();
    assert_eq!(config.auth.mode, pier::auth::Mode::Tokens);
    assert_eq!(config.auth.tokens[0].subject, "ci");
    assert_eq!(config.auth.tokens[0].scopes, ["tools:read"]);
    assert_eq!(configured("").unwrap().auth.mode, pier::auth::Mode::None);
}

#[test]
fn hash_token_prints_what_the_file_takes() {
    let run = |arg: Option<&str>, stdin: &str| {
        let mut args = vec!["auth", "hash-token"];
        args.extend(arg);
        pier_with_stdin(&args, stdin.as_bytes())
    };
    let expected = "sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\n";
    let given = run(Some("s3cret"), "");
    assert_eq!(String::from_utf8_lossy(&given.stdout), expected);
    let piped = run(None, "s3cret\n");
    assert_eq!(String::from_utf8_lossy(&piped.stdout), expected);
    let empty = run(None, "\n");
    assert!(!empty.status.success());
    assert_eq!(
        String::from_utf8_lossy(&empty.stderr),
        "pier: no token: pass it, or write it to standard input\n"
    );
}

#[tokio::test]
async fn rate_limits_per_token_subject_count_each_subject_apart() {
    let dir = PluginDir::examples();
    let server = ci_and_ops(
        &dir,
        "",
        "[[middleware]]\ntype = \"rate-limit\"\nalgorithm = \"token-bucket\"\ncapacity = 1\nrefill-per-second = 0.001\nper = \"token-subject\"\nmethods = [\"tools/call\"]\nbackend = \"memory\"\n",
        false,
    )
    .await;
    let greet = || {
        rmcp::model::CallToolRequestParams::new("hello_greet")
            .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone())
    };
    let ci = client_with(&server, TOKEN).await;
    assert!(ci.peer().call_tool(greet()).await.is_ok());
    let limited = ci.peer().call_tool(greet()).await.unwrap_err();
    assert!(
        limited.to_string().contains("rate limit exceeded"),
        "{limited}"
    );
    // Another subject, its own bucket; the same subject in a new session, the same one.
    let ops = client_with(&server, "ops-token").await;
    assert!(ops.peer().call_tool(greet()).await.is_ok());
    let ci_again = client_with(&server, TOKEN).await;
    assert!(ci_again.peer().call_tool(greet()).await.is_err());
    server.shutdown().await;
}

#[test]
fn check_says_whom_a_token_stands_for_or_why_not() {
    let (_dir, path) = config_file(&tokens_file());
    let config = path.to_str().unwrap();
    let accepted = pier_with_stdin(
        &["auth", "check", "--config", config],
        format!("{TOKEN}\n").as_bytes(),
    );
    assert!(accepted.status.success());
    assert_eq!(
        String::from_utf8_lossy(&accepted.stdout),
        "subject: ci\nscopes: tools:read\nexpires: never (a static token)\n"
    );
    let refused = pier_with_stdin(&["auth", "check", "--config", config, "guess"], b"");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stdout),
        format!(
            "refused: its SHA-256 ({}) is none of the 1 [[auth.token]] hashes\n",
            pier::auth::hash_token("guess")
        )
    );
    let (_dir, none) = config_file("");
    let open = pier_with_stdin(
        &["auth", "check", "--config", none.to_str().unwrap(), "x"],
        b"",
    );
    assert_eq!(open.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&open.stdout),
        "refused: auth.mode is \"none\": pier asks for no token and serves every request\n"
    );
}

#[tokio::test]
async fn a_mount_sends_its_own_token_never_the_clients() {
    // Upstream: a pier that knows only the token of the mount, as `front`.
    let up_dir = PluginDir::new().with(&fixture("hostile"), "hostile");
    let up_auth = configured(&tokens_file_for("mount-token", "front"))
        .unwrap()
        .auth;
    let upstream = Server::start_with(pier::ServeConfig {
        auth: up_auth,
        ..up_dir.config()
    })
    .await;
    // Front: clients authenticate with their own token; the mount has pier's.
    // The rules govern the mount's tools as they do plugins'.
    let front_text = format!(
        "{}\n[[mount]]\nnamespace = \"up\"\nurl = \"{}\"\ntoken = \"mount-token\"\n\n[[auth.rule]]\ntools = [\"up_hostile_whoami\"]\nscopes = [\"tools:read\"]\n\n[[auth.rule]]\nmounts = [\"up\"]\nscopes = [\"upstream\"]\n",
        tokens_file(),
        upstream.url
    );
    let front_config = configured(&front_text).unwrap();
    let front_dir = PluginDir::new();
    let front = Server::start_with(pier::ServeConfig {
        auth: front_config.auth,
        mounts: front_config.mounts,
        ..front_dir.config()
    })
    .await;
    assert!(front.app.refused().is_empty(), "{:?}", front.app.refused());
    let client = client_with(&front, TOKEN).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["up_hostile_whoami"]);
    let hidden = rmcp::model::CallToolRequestParams::new("up_hostile_print");
    let refused = mcp_error(client.peer().call_tool(hidden).await.unwrap_err());
    assert_eq!(
        refused.message,
        "tool `up_hostile_print` needs the scope(s) upstream"
    );
    let params = rmcp::model::CallToolRequestParams::new("up_hostile_whoami");
    let result = client.peer().call_tool(params).await.unwrap();
    // The upstream saw pier's token (subject `front`), not the client's (`ci`), which it
    // would have refused.
    assert!(
        text(&result).ends_with(" subject=front scopes=tools:read"),
        "{}",
        text(&result)
    );
    front.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test]
async fn the_access_log_names_the_subject_and_nothing_shows_the_token() {
    let (logs, _guard) = Logs::capture();
    let dir = PluginDir::examples();
    let logging = "[[middleware]]\ntype = \"logging\"\n\n[[middleware]]\ntype = \"logging\"\nstructured = true\n";
    let server = ci_and_ops(&dir, "", logging, false).await;
    let client = client_with(&server, TOKEN).await;
    let params = rmcp::model::CallToolRequestParams::new("hello_greet")
        .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone());
    client.peer().call_tool(params).await.unwrap();
    let logged = logs.text();
    let text_line = logged
        .lines()
        .find(|l| l.contains("pier::access") && l.contains("tools/call hello_greet ok in "))
        .unwrap_or_else(|| panic!("a text line: {logged}"));
    assert!(text_line.ends_with(", subject ci)"), "{text_line}");
    let json_line = logged
        .lines()
        .find(|l| l.contains("pier::access: {") && l.contains("hello_greet"))
        .unwrap_or_else(|| panic!("a JSON line: {logged}"));
    assert!(json_line.contains(r#""subject":"ci""#), "{json_line}");
    // The request's span names the subject too (`subject="ci"` among its fields), but
    // whether the span reaches this test's subscriber depends on the tests running beside
    // it: tracing caches each callsite's interest process-wide, and a callsite first met
    // on a thread without a subscriber can stay disabled. Not asserted here.
    let metrics = server.metrics().await;
    for seen in [&logged, &metrics] {
        assert!(!seen.contains(TOKEN), "the token leaked: {seen}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_belongs_to_the_subject_that_created_it() {
    let dir = PluginDir::examples();
    let server = ci_and_ops(&dir, "", "", false).await;
    let bearer = |token: &str| format!("Bearer {token}");
    let created = post(&server.url, INIT)
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let session = created.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let answer = in_session(&server.url, &session, initialized)
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    // Another subject naming the session: as if it did not exist.
    let stranger = in_session(&server.url, &session, list)
        .header("authorization", bearer("ops-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    assert_eq!(
        stranger.text().await.unwrap(),
        "Not Found: Session not found"
    );
    // Its creator goes on.
    let owner = in_session(&server.url, &session, list)
        .header("authorization", bearer(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), 200);
    let answer = message(owner).await;
    assert!(
        answer["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{answer}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn rules_decide_who_sees_and_uses_each_component() {
    let dir = PluginDir::examples().with(&example("notes"), "notes");
    let server = ci_and_ops(
        &dir,
        "\"tools:read\", \"calc\"",
        "[[auth.rule]]\ntools = [\"calc_*\"]\nscopes = [\"calc\"]\n\n[[auth.rule]]\nmounts = [\"hello\"]\nsubjects = [\"ops\"]\n",
        false,
    )
    .await;
    let tool_names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    let call = |name: &str, args: Value| {
        rmcp::model::CallToolRequestParams::new(name.to_string())
            .with_arguments(args.as_object().unwrap().clone())
    };

    // ci: tools:read only, and not `ops`.
    let ci = client_with(&server, TOKEN).await;
    let tools = tool_names(ci.peer().list_all_tools().await.unwrap());
    assert!(
        !tools
            .iter()
            .any(|t| t.starts_with("calc_") || t.starts_with("hello_")),
        "{tools:?}"
    );
    assert!(
        tools.iter().any(|t| t.starts_with("notes_")),
        "open: {tools:?}"
    );
    let refused = ci
        .peer()
        .call_tool(call("calc_add", json!({"a": 1, "b": 2})))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(refused).message,
        "tool `calc_add` needs the scope(s) calc"
    );
    let refused = ci
        .peer()
        .call_tool(call("hello_greet", json!({"name": "Ada"})))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(refused).message,
        "tool `hello_greet` is not open to this subject"
    );
    let read = rmcp::model::ReadResourceRequestParams::new("hello://hello/readme");
    let refused = ci.peer().read_resource(read.clone()).await.unwrap_err();
    assert_eq!(
        mcp_error(refused).message,
        "resource `hello://hello/readme` is not open to this subject"
    );
    let greeting = rmcp::model::ReadResourceRequestParams::new("hello://hello/greeting/Ada");
    assert!(
        ci.peer().read_resource(greeting.clone()).await.is_err(),
        "a template of the mount"
    );
    let resources = ci.peer().list_all_resources().await.unwrap();
    assert!(
        !resources.iter().any(|r| r.uri.starts_with("hello://")),
        "{resources:?}"
    );
    let prompts = ci.peer().list_all_prompts().await.unwrap();
    assert!(
        !prompts.iter().any(|p| p.name == "hello_introduce"),
        "{prompts:?}"
    );
    let templates = ci.peer().list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .all(|t| !t.uri_template.starts_with("hello://")),
        "{templates:?}"
    );

    // ops: has `calc` and is `ops`: everything.
    let ops = client_with(&server, "ops-token").await;
    let tools = tool_names(ops.peer().list_all_tools().await.unwrap());
    assert!(
        tools.contains(&"calc_add".to_string()) && tools.contains(&"hello_greet".to_string()),
        "{tools:?}"
    );
    let added = ops
        .peer()
        .call_tool(call("calc_add", json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    assert_eq!(added.structured_content, Some(json!({"result": 3.0})));
    assert!(ops.peer().read_resource(read).await.is_ok());
    assert!(ops.peer().read_resource(greeting).await.is_ok());
    server.shutdown().await;
}

#[tokio::test]
async fn a_response_cache_per_subject_never_answers_one_subject_with_anothers_result() {
    let whoami = || rmcp::model::CallToolRequestParams::new("hostile_whoami");
    for (per, ops_sees) in [("subject", "subject=ops"), ("everyone", "subject=ci")] {
        let dir = PluginDir::new().with(&fixture("hostile"), "hostile");
        let cache = format!(
            "[[middleware]]\ntype = \"response-cache\"\ninclude-tools = [\"hostile_whoami\"]\nbackend = \"memory\"\nper = \"{per}\"\n"
        );
        let server = ci_and_ops(&dir, "", &cache, false).await;
        let ci = client_with(&server, TOKEN).await;
        for _ in 0..2 {
            let result = ci.peer().call_tool(whoami()).await.unwrap();
            assert!(text(&result).contains("subject=ci"), "{}", text(&result));
        }
        let ops = client_with(&server, "ops-token").await;
        let result = ops.peer().call_tool(whoami()).await.unwrap();
        assert!(
            text(&result).contains(ops_sees),
            "per = {per}: {}",
            text(&result)
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_request_state_answers_only_the_subject_it_was_issued_to() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let server = ci_and_ops(&dir, "", "", true).await;
    let capabilities = json!({"elicitation": {"form": {}}});
    let round = |id: u64, token: &str, extra: Value| {
        let mut params = json!({"name": "probe_interview", "arguments": {}});
        if let Value::Object(extra) = extra {
            params.as_object_mut().unwrap().extend(extra);
        }
        let body = modern(id, "tools/call", params, capabilities.clone());
        let request = post_modern(&server.url, &body, "tools/call", Some("probe_interview"))
            .header("authorization", format!("Bearer {token}"));
        async move { message(request.send().await.unwrap()).await }
    };
    let first = round(1, TOKEN, json!({})).await;
    assert_eq!(first["result"]["resultType"], "input_required", "{first}");
    let state = first["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    let answers = json!({"inputResponses": {"name": {"action": "accept", "content": {"name": "Ada"}}},
                         "requestState": state});
    // Another subject replaying it: refused.
    let stolen = round(2, "ops-token", answers.clone()).await;
    assert_eq!(stolen["error"]["code"], -32602, "{stolen}");
    assert!(
        stolen["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("requestState is not one pier issued for this request"),
        "{stolen}"
    );
    // Its own subject goes on to the next round.
    let second = round(3, TOKEN, answers).await;
    assert!(second.get("error").is_none(), "{second}");
    assert_eq!(second["result"]["resultType"], "input_required", "{second}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_rule_by_tag_governs_a_proxied_servers_tagged_tools() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run `make setup` (or `make test`)");
    let extra = format!(
        "[[mount]]\nnamespace = \"py\"\ncommand = \"{}\"\nargs = [\"{}\"]\n\n[[auth.rule]]\ntags = [\"admin\"]\nscopes = [\"admin\"]\n",
        python.display(),
        root().join("tests/clients/tagged_server.py").display()
    );
    let server = ci_and_ops(&PluginDir::new(), "\"admin\"", &extra, false).await;
    assert!(
        server.app.refused().is_empty(),
        "{:?}",
        server.app.refused()
    );
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        let mut names: Vec<String> = tools.into_iter().map(|t| t.name.to_string()).collect();
        names.sort();
        names
    };
    let wipe = || rmcp::model::CallToolRequestParams::new("py_wipe");
    // ci lacks the scope: the admin-tagged tool is neither listed nor callable.
    let ci = client_with(&server, TOKEN).await;
    assert_eq!(
        names(ci.peer().list_all_tools().await.unwrap()),
        ["py_hello"]
    );
    let refused = mcp_error(ci.peer().call_tool(wipe()).await.unwrap_err());
    assert_eq!(refused.message, "tool `py_wipe` needs the scope(s) admin");
    // ops has it: both, and the call goes through.
    let ops = client_with(&server, "ops-token").await;
    assert_eq!(
        names(ops.peer().list_all_tools().await.unwrap()),
        ["py_hello", "py_wipe"]
    );
    assert_eq!(text(&ops.peer().call_tool(wipe()).await.unwrap()), "wiped");
    server.shutdown().await;
}

#[tokio::test]
async fn a_task_answers_only_the_subject_that_started_it() {
    let dir = PluginDir::new()
        .with(&fixture("conformance"), "conformance")
        .with_sidecar("conformance", "namespace = \"\"\n");
    let server = ci_and_ops(&dir, "", "", true).await;
    let declared = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let send = |id: u64, token: &str, method: &str, name: &str, params: Value| {
        let body = modern(id, method, params, declared.clone());
        let request = post_modern(&server.url, &body, method, Some(name))
            .header("authorization", format!("Bearer {token}"));
        async move { message(request.send().await.unwrap()).await }
    };
    let created = send(
        1,
        TOKEN,
        "tools/call",
        "slow_compute",
        json!({"name": "slow_compute", "arguments": {"seconds": 30}}),
    )
    .await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let id = created["result"]["taskId"].as_str().unwrap().to_string();
    let unknown = format!("no task `{id}` (unknown, or expired)");
    // To another subject the task does not exist: not fetched, answered or cancelled.
    for (n, method, extra) in [
        (2, "tasks/get", json!({})),
        (3, "tasks/update", json!({"inputResponses": {}})),
        (4, "tasks/cancel", json!({})),
    ] {
        let mut params = json!({"taskId": id});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let other = send(n, "ops-token", method, &id, params).await;
        assert_eq!(other["error"]["code"], -32602, "{method}: {other}");
        assert_eq!(other["error"]["message"], unknown.as_str(), "{method}");
    }
    // Its own subject sees it working, and cancels it.
    let mine = send(5, TOKEN, "tasks/get", &id, json!({"taskId": id})).await;
    assert_eq!(mine["result"]["status"], "working", "{mine}");
    let cancelled = send(6, TOKEN, "tasks/cancel", &id, json!({"taskId": id})).await;
    assert!(cancelled.get("error").is_none(), "{cancelled}");
    let after = send(7, TOKEN, "tasks/get", &id, json!({"taskId": id})).await;
    assert_eq!(after["result"]["status"], "cancelled", "{after}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_sidecars_required_scopes_restrict_its_whole_plugin() {
    let dir = PluginDir::examples().with_sidecar("calc", "required-scopes = [\"calc\"]\n");
    let server = ci_and_ops(&dir, "\"calc\"", "", false).await;
    assert!(
        server.app.refused().is_empty(),
        "{:?}",
        server.app.refused()
    );
    let add = || {
        rmcp::model::CallToolRequestParams::new("calc_add")
            .with_arguments(json!({"a": 1, "b": 2}).as_object().unwrap().clone())
    };
    let ci = client_with(&server, TOKEN).await;
    let tools = ci.peer().list_all_tools().await.unwrap();
    assert!(
        tools.iter().all(|t| !t.name.starts_with("calc_")),
        "{tools:?}"
    );
    assert!(tools.iter().any(|t| t.name == "hello_greet"), "{tools:?}");
    let refused = ci.peer().call_tool(add()).await.unwrap_err();
    assert_eq!(
        mcp_error(refused).message,
        "tool `calc_add` needs the scope(s) calc"
    );
    let ops = client_with(&server, "ops-token").await;
    assert!(ops.peer().call_tool(add()).await.is_ok());
    server.shutdown().await;

    // Without auth no caller has a scope: the plugin is refused, saying why.
    let open = Server::start(&dir, |_| {}).await;
    let refused = open.app.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .reason
            .contains("the sidecar's required-scopes needs callers with tokens: set auth.mode"),
        "{refused:?}"
    );
    open.shutdown().await;
}

/// Hides every tool from callers other than `ci` (a middleware filtering lists by who
/// asks).
struct OnlyCiSeesTools;

#[async_trait::async_trait]
impl pier::middleware::Middleware for OnlyCiSeesTools {
    fn name(&self) -> &str {
        "only-ci-sees-tools"
    }

    async fn on_list_tools(
        &self,
        cx: &pier::middleware::MiddlewareContext,
        next: pier::middleware::Next<'_>,
    ) -> pier::middleware::Outcome<Vec<rmcp::model::Tool>> {
        let tools = next.list_tools(cx, ()).await?;
        Ok(if cx.subject() == Some("ci") {
            tools
        } else {
            Vec::new()
        })
    }
}

#[tokio::test]
async fn a_list_cached_per_subject_is_never_shown_to_another_subject() {
    for (per, ops_sees) in [("subject", 0), ("everyone", 1)] {
        let dir = PluginDir::examples();
        let cache = format!("[[middleware]]\ntype = \"response-cache\"\nper = \"{per}\"\n");
        let server = ci_and_ops(&dir, "", &cache, false).await;
        let pipeline = server.app.pipeline();
        let mut chain = (*pipeline.server()).clone();
        chain.push(std::sync::Arc::new(OnlyCiSeesTools));
        pipeline.set_server(chain);
        let ci = client_with(&server, TOKEN).await;
        let seen = ci.peer().list_all_tools().await.unwrap();
        assert!(seen.len() > 1, "ci sees the tools");
        let ops = client_with(&server, "ops-token").await;
        let shown = ops.peer().list_all_tools().await.unwrap();
        // Under `everyone` the list is shared, as documented: ci's list answers ops.
        let expected = if ops_sees == 0 { 0 } else { seen.len() };
        assert_eq!(shown.len(), expected, "per = {per}");
        // And ci's own list is still served (from the cache) to ci.
        assert_eq!(ci.peer().list_all_tools().await.unwrap().len(), seen.len());
        server.shutdown().await;
    }
}

/// Sends every call of `from` to `to` instead (with `arguments`), as a middleware
/// after the authorization gate might.
struct Retarget {
    from: &'static str,
    to: &'static str,
    arguments: Value,
}

#[async_trait::async_trait]
impl pier::middleware::Middleware for Retarget {
    fn name(&self) -> &str {
        "retarget"
    }

    async fn on_call_tool(
        &self,
        cx: &pier::middleware::MiddlewareContext,
        call: pier::middleware::ToolCall,
        next: pier::middleware::Next<'_>,
    ) -> pier::middleware::Outcome<rmcp::model::CallToolResult> {
        let call = if call.name == self.from {
            pier::middleware::ToolCall {
                name: self.to.to_string(),
                arguments: self.arguments.as_object().unwrap().clone(),
            }
        } else {
            call
        };
        next.call_tool(cx, call).await
    }
}

#[tokio::test]
async fn a_middleware_after_the_gate_cannot_retarget_a_call_to_a_refused_tool() {
    let dir = PluginDir::examples();
    let rules = "[[auth.rule]]\ntools = [\"calc_*\"]\nscopes = [\"calc\"]\n";
    let server = ci_and_ops(&dir, "\"calc\"", rules, false).await;
    let pipeline = server.app.pipeline();
    let mut chain = (*pipeline.server()).clone();
    chain.push(std::sync::Arc::new(Retarget {
        from: "hello_greet",
        to: "calc_add",
        arguments: json!({"a": 1, "b": 2}),
    }));
    pipeline.set_server(chain);
    let greet = || {
        rmcp::model::CallToolRequestParams::new("hello_greet")
            .with_arguments(json!({"name": "Ada"}).as_object().unwrap().clone())
    };
    // ci may call hello_greet, not calc_add: the retargeted call is refused.
    let ci = client_with(&server, TOKEN).await;
    let refused = ci.peer().call_tool(greet()).await.unwrap_err();
    assert_eq!(
        mcp_error(refused).message,
        "tool `calc_add` needs the scope(s) calc"
    );
    // ops may call calc_add: the same retarget goes through.
    let ops = client_with(&server, "ops-token").await;
    let answered = ops.peer().call_tool(greet()).await.unwrap();
    assert_eq!(text(&answered), "3");

    // The same from a mount's own chain (it runs after the server's).
    pipeline.set_server(pier::middleware::Chain::default());
    let mut hello = pier::middleware::Chain::default();
    hello.push(std::sync::Arc::new(Retarget {
        from: "hello_greet",
        to: "calc_add",
        arguments: json!({"a": 1, "b": 2}),
    }));
    pipeline.set_mount("hello", hello);
    let refused = ci.peer().call_tool(greet()).await.unwrap_err();
    assert!(
        mcp_error(refused)
            .message
            .starts_with("tool `calc_add` needs the scope(s) calc"),
    );
    server.shutdown().await;
}

/// The first message of the SSE stream `response` (ten seconds at most).
async fn first_event(mut response: reqwest::Response) -> Value {
    let read = async {
        let mut pending = String::new();
        loop {
            if let Some(end) = pending.find("\n\n") {
                let data: String = pending[..end]
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str::<Value>(&data).unwrap();
                }
                pending.drain(..end + 2);
                continue;
            }
            let chunk = response.chunk().await.unwrap().expect("the stream goes on");
            pending.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("a message within ten seconds")
}

#[tokio::test]
async fn a_listen_acknowledgement_never_names_a_resource_the_caller_may_not_read() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let rule = "[[auth.rule]]\nresources = [\"probe://probe/counter\"]\nscopes = [\"secret\"]\n";
    let server = ci_and_ops(&dir, "\"secret\"", rule, true).await;
    let counter = "probe://probe/counter";
    let listen = |id: u64, token: &str| {
        let filter =
            json!({"notifications": {"resourceSubscriptions": [counter, "probe://probe/itself"]}});
        let body = modern(id, "subscriptions/listen", filter, json!({}));
        let request = post_modern(&server.url, &body, "subscriptions/listen", None)
            .header("authorization", format!("Bearer {token}"));
        async move { first_event(request.send().await.unwrap()).await }
    };
    // ci lacks the scope: the counter is not named (as if it did not exist).
    let ci = listen(1, TOKEN).await;
    assert_eq!(
        ci["params"]["notifications"],
        json!({"resourceSubscriptions": ["probe://probe/itself"]}),
        "{ci}"
    );
    // ops has it.
    let ops = listen(2, "ops-token").await;
    assert_eq!(
        ops["params"]["notifications"],
        json!({"resourceSubscriptions": [counter, "probe://probe/itself"]}),
        "{ops}"
    );
    server.shutdown().await;
}
