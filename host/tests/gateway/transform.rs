//! Tool transformations: a FastMCP upstream's tool renamed, an argument renamed, one
//! pinned and hidden, one given a default, called by the Python `mcp` Client with the
//! mapping visible at the upstream; a pier upstream's tool reshaped in `[[mount.tool]]`;
//! a directory plugin's in its sidecar, through a hot swap to a version without the tool.

use serde_json::{Value, json};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fastmcp_tool_is_renamed_its_arguments_mapped_and_the_upstream_sees_its_own() {
    let upstream = PythonServer::start("gateway_server.py", &[]).await;
    let dir = PluginDir::new();
    let operator = format!(
        r#"
[[mount]]
namespace = "shop"
url = "{}"

[[mount.tool]]
name = "search"
rename = "find_products"
title = "Find products"
description = "Finds products in the catalog."
tags = ["read"]
annotations = {{ read-only = true }}
arguments.query = {{ rename = "q", description = "Words to look for" }}
arguments.limit = {{ default = 3 }}
arguments.tenant = {{ hide = true, default = "acme" }}

[[mount.tool]]
name = "whoami"
hide = true
"#,
        upstream.url
    );
    let server = Server::start_with(configured(&dir, &operator)).await;
    assert_eq!(refusals(&server.app), []);
    let calls = json!([
        ["shop_find_products", {"q": "socks"}],
        ["shop_find_products", {"q": "socks", "limit": 2, "tenant": "evil", "query": "sneaky"}],
        ["shop_find_products", {"limit": 2}],
        ["shop_whoami", {}],
        ["shop_fail", {"reason": "boom"}],
    ]);
    let seen = python_script("gateway.py", &[&server.url, "shop_", &calls.to_string()]);
    let tools = seen["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shop_find_products", "shop_fail"]);
    let find = &tools[0];
    assert_eq!(find["title"], "Find products");
    assert_eq!(find["description"], "Finds products in the catalog.");
    assert_eq!(find["annotations"], json!({"readOnlyHint": true}));
    let schema = &find["inputSchema"];
    let mut properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    properties.sort();
    assert_eq!(properties, ["limit", "q"]);
    assert_eq!(
        schema["properties"]["q"]["description"],
        "Words to look for"
    );
    assert_eq!(schema["properties"]["limit"]["default"], 3);
    assert_eq!(schema["required"], json!(["q"]));

    let calls = seen["calls"].as_array().unwrap();
    let upstream_saw =
        |i: usize| -> Value { serde_json::from_str(calls[i]["text"].as_str().unwrap()).unwrap() };
    assert_eq!(
        upstream_saw(0),
        json!({"query": "socks", "limit": 3, "tenant": "acme"})
    );
    // FastMCP's schemas allow no other property: the tool's own names are refused.
    assert_eq!(
        calls[1]["error"],
        "invalid arguments for tool `shop_find_products`: Additional properties are not allowed ('query', 'tenant' were unexpected)"
    );
    // Checked against the schema the client sees, in its names.
    let missing = calls[2]["error"].as_str().unwrap();
    assert!(
        missing.starts_with("invalid arguments for tool `shop_find_products`: ")
            && missing.contains("\"q\" is a required property"),
        "{missing}"
    );
    assert!(
        calls[3]["error"].as_str().unwrap().contains("shop_whoami"),
        "a hidden tool is not served: {}",
        calls[3]
    );
    // Errors pass unchanged.
    assert_eq!(calls[4]["isError"], true);
    assert!(
        calls[4]["text"].as_str().unwrap().contains("boom"),
        "{}",
        calls[4]
    );

    // The admin view names both.
    let mounts = server.app.mounts();
    let shop = mounts.iter().find(|m| m.namespace == "shop").unwrap();
    assert_eq!(
        serde_json::to_value(&shop.transformed).unwrap(),
        json!([{"name": "shop_find_products", "original": "search"}])
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pier_upstreams_tool_is_reshaped_by_mount_tool_tables() {
    let upstream = Server::start(&PluginDir::new().with(&example("calc"), "calc"), |_| {}).await;
    let dir = PluginDir::new();
    let operator = format!(
        r#"
[[mount]]
namespace = "up"
url = "{}"
tool = [{{ name = "calc_add", rename = "plus", arguments = {{ a = {{ rename = "x" }}, b = {{ hide = true, default = 10 }} }} }}]
"#,
        upstream.url
    );
    let server = Server::start_with(configured(&dir, &operator)).await;
    let (client, _) = server.client().await;
    let result = call(&client, "up_plus", json!({"x": 5})).await.unwrap();
    assert_eq!(text(&result), "15");
    let unknown = mcp_error(
        call(&client, "up_calc_add", json!({"a": 1, "b": 2}))
            .await
            .unwrap_err(),
    );
    assert_eq!(unknown.message, "unknown tool `up_calc_add`");
    drop(client);
    server.shutdown().await;
    upstream.shutdown().await;
}

#[tokio::test]
async fn a_sidecars_tool_tables_reshape_a_directory_plugin_and_survive_a_hot_swap() {
    let (logs, _guard) = Logs::capture();
    let dir = PluginDir::new()
        .with(&example("calc"), "calc")
        .with_sidecar(
            "calc",
            "[[tool]]\nname = \"add\"\nrename = \"sum\"\narguments.b = { default = 1 }\n\n[[tool]]\nname = \"divide\"\nhide = true\n",
        );
    let app = pier::App::start(&dir.config()).await.unwrap();
    let (client, _) = connect(&app).await;
    let result = call(&client, "calc_sum", json!({"a": 2})).await.unwrap();
    assert_eq!(text(&result), "3");
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"calc_sum"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| *n == "calc_add" || *n == "calc_divide"),
        "{names:?}"
    );
    let calc = app
        .mounts()
        .into_iter()
        .find(|m| m.namespace == "calc")
        .unwrap();
    assert_eq!(
        serde_json::to_value(&calc.transformed).unwrap(),
        json!([{"name": "calc_sum", "original": "add"}])
    );

    // `pier inspect` shows the tool as clients see it, and its own name.
    let inspected = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["inspect", "--json"])
        .arg(dir.path().join("calc.wasm"))
        .output()
        .unwrap();
    assert!(
        inspected.status.success(),
        "{}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    let report: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    let sum = report["plugins"][0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "calc_sum")
        .unwrap()
        .clone();
    assert_eq!(sum["original"], "add");
    assert_eq!(sum["input_schema"]["properties"]["b"]["default"], 1);

    // A new version without those tools: the transformations are warnings, the rest
    // serves.
    std::fs::copy(example("hello"), dir.path().join("calc.wasm")).unwrap();
    let outcome = app.reconcile(&dir.path().join("calc.wasm")).await;
    match outcome {
        pier::registry::mounts::Outcome::Swapped { .. } => {}
        pier::registry::mounts::Outcome::Refused { error, .. } => panic!("refused: {error}"),
        _ => panic!("the new version is not mounted"),
    }
    let logged = logs.text();
    assert!(
        logged.contains("plugin `calc`: the tool transformation of `add` is left out: the mount offers no tool `add`"),
        "{logged}"
    );
    let result = call(&client, "calc_greet", json!({"name": "Ada"}))
        .await
        .unwrap();
    assert_eq!(text(&result), "Hello, Ada!", "hello's tools, under calc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pier_toml_reshapes_a_directory_plugin_over_its_sidecar() {
    let dir = PluginDir::new()
        .with(&example("calc"), "calc")
        .with_sidecar("calc", "[[tool]]\nname = \"add\"\nrename = \"sum\"\n");
    let operator = "[[tools.calc]]\nname = \"add\"\nrename = \"plus\"\n\n[[tools.calc]]\nname = \"divide\"\nhide = true\n";
    let app = pier::App::start(&configured(&dir, operator)).await.unwrap();
    let (client, _) = connect(&app).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(names, ["calc_countdown", "calc_plus"]);
    let result = call(&client, "calc_plus", json!({"a": 2, "b": 2}))
        .await
        .unwrap();
    assert_eq!(text(&result), "4");

    let mut layers = pier::config::Layers::default();
    let error = layers
        .apply_file(
            std::path::Path::new("pier.toml"),
            "[[tools.calc]]\nname = \"a b\"\n",
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "pier.toml: tools.calc[0].name: must be the tool's name: 1 to 64 of A-Z a-z 0-9 _ - ."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mount_tables_plugin_file_is_reshaped_by_its_tool_tables() {
    let dir = PluginDir::new();
    let operator = format!(
        "[[mount]]\nnamespace = \"math\"\npath = \"{}\"\n\n[[mount.tool]]\nname = \"add\"\nrename = \"plus\"\narguments.b = {{ hide = true, default = 100 }}\n",
        example("calc").display()
    );
    let app = pier::App::start(&configured(&dir, &operator))
        .await
        .unwrap();
    let (client, _) = connect(&app).await;
    let result = call(&client, "math_plus", json!({"a": 1})).await.unwrap();
    assert_eq!(text(&result), "101");
    // The plugin's schema allows no other property: a hidden argument cannot be sent.
    let refused = mcp_error(
        call(&client, "math_plus", json!({"a": 1, "b": 5}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        refused.message,
        "invalid arguments for tool `math_plus`: Additional properties are not allowed ('b' was unexpected)"
    );
    let math = app
        .mounts()
        .into_iter()
        .find(|m| m.namespace == "math")
        .unwrap();
    assert_eq!(
        serde_json::to_value(&math.transformed).unwrap(),
        json!([{"name": "math_plus", "original": "add"}])
    );
}
