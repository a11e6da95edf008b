//! `visibility`, on the server and on mounts, by name and by tag.

use super::*;

#[tokio::test]
async fn hidden_components_are_absent_and_cannot_be_called() {
    let dir = PluginDir::new().with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "visibility"
disable = ["probe_put", "probe://probe/counter"]
disable-tags = ["internal"]
"#;
    let (_app, client) = start_with(&dir, toml).await;
    let tools = tool_names(&client).await;
    assert!(tools.contains(&"probe_count".to_string()), "{tools:?}");
    assert!(!tools.contains(&"probe_put".to_string()), "{tools:?}");
    assert!(
        !tools.contains(&"probe_big".to_string()),
        "tagged internal: {tools:?}"
    );
    let error = mcp_error(
        call(&client, "probe_big", json!({"bytes": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(error.message, "unknown tool `probe_big`");
    let resources = client.peer().list_all_resources().await.unwrap();
    assert!(resources.iter().all(|r| r.uri != "probe://probe/counter"));
    let read = client
        .peer()
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "probe://probe/counter",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(read).code,
        rmcp::model::ErrorCode::RESOURCE_NOT_FOUND
    );
    assert_eq!(
        text(&call(&client, "probe_count", json!({})).await.unwrap()),
        "1"
    );
}

#[tokio::test]
async fn visibility_on_a_mount_hides_that_mounts_components_by_their_own_names() {
    let dir = PluginDir::new();
    let toml = format!(
        "{}\n[[mount]]\nnamespace = \"c\"\npath = \"{}\"\nmiddleware = [{{ type = \"visibility\", enable-tags = [\"counting\"] }}]\n",
        two_probes().replace(
            "namespace = \"b\"",
            "namespace = \"b\"\nmiddleware = [{ type = \"visibility\", disable = [\"count\"] }]"
        ),
        fixture("probe").display()
    );
    let (_app, client) = start_with(&dir, &toml).await;
    let tools = tool_names(&client).await;
    assert!(tools.contains(&"a_count".to_string()), "{tools:?}");
    assert!(!tools.contains(&"b_count".to_string()), "{tools:?}");
    assert!(tools.contains(&"b_big".to_string()), "{tools:?}");
    let c_tools: Vec<&String> = tools.iter().filter(|t| t.starts_with("c_")).collect();
    assert_eq!(c_tools, ["c_count"], "only the tool tagged `counting`");
    assert!(call(&client, "b_count", json!({})).await.is_err());
    assert_eq!(
        text(&call(&client, "a_count", json!({})).await.unwrap()),
        "1"
    );
}

#[tokio::test]
async fn a_proxied_fastmcp_servers_tags_reach_the_visibility_middleware() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "run `make setup` (or `make test`)");
    let toml = format!(
        r#"
[[mount]]
namespace = "py"
command = "{}"
args = ["{}"]
middleware = [{{ type = "visibility", disable-tags = ["admin"] }}]
"#,
        python.display(),
        root().join("tests/clients/tagged_server.py").display()
    );
    let (_app, client) = start_with(&PluginDir::new(), &toml).await;
    let tools = tool_names(&client).await;
    assert_eq!(tools, ["py_hello"]);
    let error = mcp_error(call(&client, "py_wipe", json!({})).await.unwrap_err());
    assert_eq!(error.message, "unknown tool `py_wipe`");
    assert_eq!(
        text(&call(&client, "py_hello", json!({})).await.unwrap()),
        "hello"
    );
}

#[tokio::test]
async fn a_hidden_prompt_is_absent_and_cannot_be_rendered_or_completed() {
    let dir = PluginDir::new().with(&example("hello"), "hello");
    let toml = "[[middleware]]\ntype = \"visibility\"\ndisable = [\"hello_introduce\"]\n";
    let (_app, client) = start_with(&dir, toml).await;
    assert!(client.peer().list_all_prompts().await.unwrap().is_empty());
    let rendered = client
        .peer()
        .get_prompt(rmcp::model::GetPromptRequestParams::new("hello_introduce"))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(rendered).message,
        "unknown prompt `hello_introduce`"
    );
    let completed = client
        .peer()
        .complete(rmcp::model::CompleteRequestParams::new(
            rmcp::model::Reference::for_prompt("hello_introduce"),
            rmcp::model::ArgumentInfo::new("name", "A"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        mcp_error(completed).message,
        "unknown prompt `hello_introduce`"
    );
    // The rest of the plugin still serves.
    assert_still_serving(&client).await;
}

#[tokio::test]
#[allow(deprecated)] // resources/subscribe is the 2025-11-25 way, which pier serves
async fn a_hidden_resource_cannot_be_read_by_a_plugin_nor_subscribed_to() {
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&fixture("probe"), "probe");
    let toml = r#"
[[middleware]]
type = "visibility"
disable = ["hello://hello/readme", "hello://hello/greeting/{name}", "hello_introduce"]
"#;
    let (_app, client) = start_with(&dir, toml).await;
    // Through a plugin's context: the same answer as for a resource that does not exist.
    for uri in ["hello://hello/readme", "hello://hello/greeting/Ada"] {
        let result = call(&client, "probe_read", json!({ "uri": uri }))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(true), "{uri}");
        assert_eq!(text(&result), format!("resource not found: {uri}"));
    }
    let result = call(
        &client,
        "probe_prompt",
        json!({"prompt": "hello_introduce", "name": "Ada"}),
    )
    .await
    .unwrap();
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text(&result), "unknown prompt `hello_introduce`");
    // Subscriptions: refused exactly like a resource nothing serves.
    for uri in [
        "hello://hello/readme",
        "hello://hello/greeting/Ada",
        "nope://x",
    ] {
        let error = client
            .peer()
            .subscribe(rmcp::model::SubscribeRequestParams::new(uri))
            .await
            .unwrap_err();
        let error = mcp_error(error);
        assert_eq!(
            error.code,
            rmcp::model::ErrorCode::RESOURCE_NOT_FOUND,
            "{uri}"
        );
        assert_eq!(error.message, format!("resource not found: {uri}"));
    }
    // What is not hidden still reads and subscribes.
    let result = call(
        &client,
        "probe_read",
        json!({"uri": "probe://probe/counter"}),
    )
    .await
    .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    client
        .peer()
        .subscribe(rmcp::model::SubscribeRequestParams::new(
            "probe://probe/counter",
        ))
        .await
        .unwrap();
}
