//! The `fetch` example plugin: a page as markdown, in pieces, within its grants.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetch_example_reads_a_page_as_markdown_in_pieces() {
    let web = Web::start().await;
    // Its own sidecar grants public HTTPS only: a loopback page is refused.
    let shipped = std::fs::read_to_string(root().join("plugins/fetch/fetch.toml")).unwrap();
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&example("fetch"), "fetch")
        .with_sidecar("fetch", &shipped);
    let app = App::start(&dir.config()).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let url = web.url("/page");
    let refused = call(&client, "fetch_fetch", json!({"url": url}))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        refusal(&text_of(&refused)),
        format!(
            "plugin `fetch` may not reach http://127.0.0.1:{}: not in its [grants] http",
            web.port
        )
    );
    drop((client, app));

    // Granted the page's server (and private networks, for loopback).
    let sidecar = format!(
        "[grants]\nhttp = [\"http://127.0.0.1:{}\"]\nprivate-networks = true\n",
        web.port
    );
    let dir = PluginDir::new()
        .with(&example("hello"), "hello")
        .with(&example("fetch"), "fetch")
        .with_sidecar("fetch", &sidecar);
    let mut config: ServeConfig = dir.config();
    config.grants.private_networks = true;
    let app = App::start(&config).await.expect("pier starts");
    let (client, _) = connect(&app).await;
    let markdown = "# Tides & currents\n\nThe **sea** rises twice a day.\n\n- High water\n- Low water\n\nSee [more](/more).";
    let whole = call(&client, "fetch_fetch", json!({"url": url}))
        .await
        .unwrap();
    assert_eq!(text_of(&whole), format!("Contents of {url}:\n{markdown}"));
    let first = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "max_length": 20}),
    )
    .await
    .unwrap();
    let total = markdown.chars().count();
    assert_eq!(
        text_of(&first),
        format!(
            "Contents of {url}:\n{}\n\n<content truncated: {} of {total} characters left; call fetch with start_index=20 to read on>",
            &markdown[..20],
            total - 20
        )
    );
    let rest = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "start_index": 20}),
    )
    .await
    .unwrap();
    assert_eq!(
        text_of(&rest),
        format!("Contents of {url}:\n{}", &markdown[20..])
    );
    let raw = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "raw": true, "max_length": 15}),
    )
    .await
    .unwrap();
    assert!(
        text_of(&raw).starts_with(&format!("Contents of {url}:\n<!DOCTYPE html>")),
        "{}",
        text_of(&raw)
    );
    let past = call(
        &client,
        "fetch_fetch",
        json!({"url": url, "start_index": 100000}),
    )
    .await
    .unwrap();
    assert_eq!(past.is_error, Some(true));
    assert_eq!(
        text_of(&past),
        format!("start_index 100000 is past the end of the content ({total} characters)")
    );
    assert_still_serving(&client).await;
}
