//! MCP over stdio (newline-delimited JSON-RPC) or any byte pipe. Only protocol messages
//! are written to the output; logs go to stderr.

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::PierServer;

/// Serves one session on `reader`/`writer` until the client closes it.
pub async fn serve<R, W>(server: PierServer, reader: R, writer: W) -> Result<(), std::io::Error>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let running = match server.serve((reader, writer)).await {
        Ok(running) => running,
        // A client that goes away before initializing ends its session, not the server.
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("the client closed the connection before initializing");
            return Ok(());
        }
        Err(e) => {
            return Err(std::io::Error::other(format!(
                "MCP session did not start: {e}"
            )));
        }
    };
    running
        .waiting()
        .await
        .map_err(|e| std::io::Error::other(format!("MCP session ended abnormally: {e}")))?;
    Ok(())
}

/// Serves one session on the process's stdin/stdout.
pub async fn serve_process(server: PierServer) -> Result<(), std::io::Error> {
    serve(server, tokio::io::stdin(), tokio::io::stdout()).await
}
