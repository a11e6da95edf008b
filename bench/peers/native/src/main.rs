//! `native-peer`: the benchmark's tools (`echo`, `add`, the `bench://data` resource and
//! `--tools N` fillers) served by rmcp directly, with the same transports as pier:
//! streamable HTTP at `/mcp` (stateful sessions and SSE responses, or with `--stateless`
//! no sessions and JSON responses), or stdio.

use std::sync::Arc;

use axum::serve::ListenerExt;
use clap::Parser;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

/// Command line.
#[derive(Parser)]
struct Args {
    /// HTTP address to listen on.
    #[arg(long, default_value = "127.0.0.1:8100")]
    listen: String,
    /// Serve on stdin/stdout instead of HTTP.
    #[arg(long)]
    stdio: bool,
    /// HTTP without sessions, answering with JSON instead of SSE.
    #[arg(long)]
    stateless: bool,
    /// Extra filler tools, for the `tools/list` scenario.
    #[arg(long, default_value_t = 0)]
    tools: usize,
}

#[derive(Clone)]
struct Peer {
    tools: Arc<Vec<Tool>>,
}

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    serde_json::from_value(json!({
        "name": name, "description": description, "inputSchema": schema,
    }))
    .expect("a valid tool")
}

fn text_schema() -> Value {
    json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
}

impl Peer {
    fn new(fillers: usize) -> Self {
        let mut tools = vec![
            tool("echo", "Return the text unchanged.", text_schema()),
            tool(
                "add",
                "Add two integers.",
                json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}),
            ),
        ];
        tools.extend(
            (0..fillers).map(|i| tool(&format!("filler_{i}"), "A filler tool.", text_schema())),
        );
        Self {
            tools: Arc::new(tools),
        }
    }
}

fn argument<'a>(args: &'a JsonObject, key: &str) -> Result<&'a Value, McpError> {
    args.get(key)
        .ok_or_else(|| McpError::invalid_params(format!("missing argument `{key}`"), None))
}

impl ServerHandler for Peer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(
            "native-peer",
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let text = match request.name.as_ref() {
            "add" => {
                let a = argument(&args, "a")?.as_i64().unwrap_or_default();
                let b = argument(&args, "b")?.as_i64().unwrap_or_default();
                a.wrapping_add(b).to_string()
            }
            "echo" => argument(&args, "text")?
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name if self.tools.iter().any(|t| t.name == name) => "ok".to_string(),
            name => {
                return Err(McpError::invalid_params(
                    format!("unknown tool `{name}`"),
                    None,
                ));
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri != "bench://data" {
            return Err(McpError::resource_not_found(
                format!("resource not found: {}", request.uri),
                None,
            ));
        }
        let result: ReadResourceResult = serde_json::from_value(json!({"contents": [
            {"uri": "bench://data", "mimeType": "text/plain", "text": "x".repeat(1024)}
        ]}))
        .expect("a valid result");
        Ok(result.into())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let peer = Peer::new(args.tools);
    if args.stdio {
        let running = peer
            .serve(rmcp::transport::stdio())
            .await
            .map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        return Ok(());
    }
    let service = StreamableHttpService::new(
        move || Ok(peer.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(!args.stateless)
            .with_json_response(args.stateless),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    eprintln!("native-peer: http://{}/mcp", listener.local_addr()?);
    // Without TCP_NODELAY, small SSE writes wait ~40 ms for delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await
}
