//! `subscriptions/listen`: the acknowledgement, what a stream hears, its bounds.

use super::*;

#[tokio::test]
async fn a_listen_stream_is_acknowledged_tagged_and_filtered() {
    let (server, dir) = serve(&[]).await;
    let filter = json!({"notifications": {
        "toolsListChanged": true,
        "promptsListChanged": true,
        "resourceSubscriptions": ["probe://probe/counter", "nothing://here"],
    }});
    let body = modern(7, "subscriptions/listen", filter, json!({}));
    let response = post_modern(&server.url, &body, "subscriptions/listen", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = Events::of(response);
    // The acknowledgement comes first and names what was accepted: not the URI no
    // mount serves.
    let ack = stream.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({
            "toolsListChanged": true,
            "promptsListChanged": true,
            "resourceSubscriptions": ["probe://probe/counter"],
        })
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    assert_eq!(server.app.subscriptions().len(), 1);

    // A plugin's update of the subscribed resource reaches the stream, tagged.
    let touch = modern(
        8,
        "tools/call",
        json!({"name": "probe_touch", "arguments": {}}),
        json!({}),
    );
    let done = message(
        post_modern(&server.url, &touch, "tools/call", Some("probe_touch"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(done["result"]["content"][0]["text"], "touched", "{done}");
    let updated = stream.next().await;
    assert_eq!(
        (
            &updated["method"],
            &updated["params"]["uri"],
            &updated["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"]
        ),
        (
            &json!("notifications/resources/updated"),
            &json!("probe://probe/counter"),
            &json!(7)
        ),
        "{updated}"
    );

    // Unmounting the probe changes tools and resources, then unmounting the conformance
    // plugin tools, resources and prompts: the stream hears only the tools and prompts
    // it asked for, in order.
    let mut heard = Vec::new();
    for plugin in ["probe", "conformance"] {
        let file = dir.path().join(format!("{plugin}.wasm"));
        std::fs::remove_file(&file).unwrap();
        server.app.reconcile(&file).await;
        heard.push(stream.next().await);
        if plugin == "conformance" {
            heard.push(stream.next().await);
        }
    }
    let methods: Vec<&Value> = heard.iter().map(|m| &m["method"]).collect();
    assert_eq!(
        methods,
        [
            "notifications/tools/list_changed",
            "notifications/tools/list_changed",
            "notifications/prompts/list_changed"
        ],
        "{heard:?}"
    );
    for m in &heard {
        assert_eq!(
            m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            7
        );
    }

    // The client closing the stream ends its subscriptions.
    drop(stream);
    for _ in 0..100 {
        if server.app.subscriptions().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(server.app.subscriptions().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn a_listen_stream_subscribes_to_a_bounded_number_of_uris() {
    let (server, _dir) = serve(&[]).await;
    let listen = |id: u64, uris: Vec<&str>| {
        let filter = json!({"notifications": {"resourceSubscriptions": uris}});
        let body = modern(id, "subscriptions/listen", filter, json!({}));
        let url = server.url.clone();
        async move {
            let response = post_modern(&url, &body, "subscriptions/listen", None)
                .send()
                .await
                .unwrap();
            let mut stream = Events::of(response);
            let ack = stream.next().await["params"]["notifications"].clone();
            (ack, stream)
        }
    };
    let counter = "probe://probe/counter";
    // Repeats are one subscription (rmcp echoes the repeats in the acknowledgement).
    let (ack, stream) = listen(1, vec![counter; 3]).await;
    assert_eq!(
        ack,
        json!({"resourceSubscriptions": [counter, counter, counter]})
    );
    assert_eq!(server.app.subscriptions().len(), 1);
    drop(stream);
    // More URIs than a stream may name, repeats included: none accepted.
    let (ack, _stream) = listen(2, vec![counter; 1025]).await;
    assert_eq!(ack, json!({}));
    // A URI longer than server.max-uri-bytes is not accepted.
    let long = format!("probe://probe/{}", "x".repeat(9000));
    let (ack, mut open) = listen(3, vec![&long, counter]).await;
    assert_eq!(ack, json!({"resourceSubscriptions": [counter]}));
    // Shutting down ends the streams at once with their final result.
    let stopping = tokio::spawn(server.shutdown());
    let last = open.next().await;
    assert_eq!(last["id"], 3, "{last}");
    assert_eq!(last["result"]["resultType"], "complete", "{last}");
    assert_eq!(
        last["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        3
    );
    stopping.await.unwrap();
}

#[tokio::test]
async fn one_client_keeps_a_bounded_number_of_listen_streams_open() {
    let (server, _dir) = serve(&[]).await;
    let counter = "probe://probe/counter";
    let listen = |id: u64| {
        let filter = json!({"notifications": {"resourceSubscriptions": [counter]}});
        let body = modern(id, "subscriptions/listen", filter, json!({}));
        let url = server.url.clone();
        async move {
            let response = post_modern(&url, &body, "subscriptions/listen", None)
                .send()
                .await
                .unwrap();
            let mut stream = Events::of(response);
            let ack = stream.next().await;
            assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
            stream
        }
    };
    let subscribed = |n: usize| {
        let app = server.app.clone();
        async move {
            for _ in 0..100 {
                if app.subscriptions().len() == n {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            false
        }
    };
    let mut open = Vec::new();
    for id in 0..32 {
        open.push(listen(id).await);
    }
    assert!(subscribed(32).await, "every stream subscribed");
    // The 33rd ends at once, saying why.
    let mut refused = listen(100).await;
    let end = refused.next().await;
    assert_eq!(end["id"], 100, "{end}");
    assert_eq!(end["error"]["code"], -32000, "{end}");
    assert_eq!(
        end["error"]["message"],
        "this client already has 32 subscriptions/listen streams open: close one first"
    );
    // One closed, one more may open (once the closed one is counted out).
    drop(open.pop());
    assert!(
        subscribed(31).await,
        "the closed stream's subscription is gone"
    );
    let mut reopened = false;
    for id in 200..220 {
        let stream = listen(id).await;
        if subscribed(32).await {
            open.push(stream);
            reopened = true;
            break;
        }
    }
    assert!(reopened, "a stream opens once another closed");
    server.shutdown().await;
}
