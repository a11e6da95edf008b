//! `GET` of one small document over http or https (the JWKS), with hyper and rustls:
//! the server's certificate checked against the web's roots and `grants.ca-certificates`.

use http_body_util::{BodyExt, Empty, Limited};
use wasmtime_wasi_http::io::TokioIo;

use crate::runtime::grants::Trust;

/// The body of `GET url` (http or https), at most `max_bytes`, if the answer is 200.
pub(super) async fn get(
    url: &str,
    trust: &Trust,
    max_bytes: usize,
) -> Result<bytes::Bytes, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url}: not an http(s) URL")),
    };
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tokio::net::TcpStream::connect((bare, port))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let request = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()).to_string())
        .header(
            http::header::HOST,
            uri.authority().map_or(host, |a| a.as_str()),
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = if https {
        let name = match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(bare.to_string())
                .map_err(|e| format!("{url}: {e}"))?,
        };
        let tls = tokio_rustls::TlsConnector::from(trust.config())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        send(TokioIo::new(tls), request).await
    } else {
        send(TokioIo::new(tcp), request).await
    }
    .map_err(|e| format!("{url}: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|e| format!("{url}: {e} (at most {max_bytes} bytes)"))
}

async fn send<T>(
    io: T,
    request: http::Request<Empty<bytes::Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    sender.send_request(request).await
}
