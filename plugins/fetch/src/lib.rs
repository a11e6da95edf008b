//! `fetch`: reads a web page for the model, through pier's checked outbound HTTP.
//! HTML is reduced to readable markdown unless `raw`; long pages come in pieces of
//! `max_length` characters from `start_index`.

use pier_sdk::prelude::*;

mod html;

/// Fetches a URL and returns its content as text (HTML reduced to markdown). Long
/// pages come in pieces: call again with the `start_index` the result names.
#[tool(read_only, open_world)]
fn fetch(
    /// The URL (http:// or https://).
    url: String,
    /// Most characters returned (default 5000).
    max_length: Option<u32>,
    /// The first character returned (default 0), to read a long page on.
    start_index: Option<u32>,
    /// The page as received, without reducing HTML (default false).
    raw: Option<bool>,
) -> Result<String, Error> {
    let max_length = max_length.unwrap_or(5000).clamp(1, 1_000_000) as usize;
    let start = start_index.unwrap_or(0) as usize;
    let response = pier_sdk::http::Request::get(&url)
        .header("user-agent", "pier-fetch/0.1 (+MCP)")
        .header("accept", "text/html, text/*;q=0.9, */*;q=0.5")
        .send()?;
    if !response.is_success() {
        return Err(Error::Failed(format!(
            "{url} answered {}{}",
            response.status,
            response
                .header("location")
                .map(|to| format!(" (redirect to {to}; fetch that URL to follow it)"))
                .unwrap_or_default()
        )));
    }
    let text = response.text();
    let is_html = response
        .header("content-type")
        .map_or_else(|| html::looks_like_html(&text), |t| t.contains("html"));
    let (content, prefix) = if is_html && !raw.unwrap_or(false) {
        (html::to_markdown(&text), "")
    } else {
        let kind = response.header("content-type").unwrap_or("unknown type");
        (text, if is_html { "" } else { kind })
    };
    let total = content.chars().count();
    if start >= total && total > 0 {
        return Err(Error::InvalidParams(format!(
            "start_index {start} is past the end of the content ({total} characters)"
        )));
    }
    let piece: String = content.chars().skip(start).take(max_length).collect();
    let next = start + piece.chars().count();
    let mut out = if prefix.is_empty() {
        format!("Contents of {url}:\n{piece}")
    } else {
        format!("Contents of {url} ({prefix}):\n{piece}")
    };
    if next < total {
        out.push_str(&format!(
            "\n\n<content truncated: {} of {total} characters left; call fetch with start_index={next} to read on>",
            total - next
        ));
    }
    Ok(out)
}

pier_sdk::plugin! {
    name: "fetch",
    version: env!("CARGO_PKG_VERSION"),
    tools: [fetch],
}
