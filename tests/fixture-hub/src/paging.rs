//! Cursor pagination: opaque cursors and the `Link: <…>; rel="next"` header.

use crate::http::{Request, Response};
use crate::util::{hex, percent_decode, unhex};

/// An opaque cursor for the entry at `offset`.
fn encode(offset: usize) -> String {
    hex(format!("o{offset}").as_bytes())
}

/// The offset a request's `cursor` points at (0 without one); `Err` answers 400.
pub(crate) fn offset(request: &Request) -> Result<usize, Response> {
    let Some(cursor) = request.query_first("cursor") else {
        return Ok(0);
    };
    unhex(cursor)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix('o')?.parse().ok())
        .ok_or_else(|| Response::json_error(400, "Invalid cursor"))
}

/// Answers one page of `items` (starting at the request's cursor, `page` long) with `render`,
/// adding a `Link` to the next page, which repeats the request's query with a new cursor.
pub(crate) fn page<T>(
    base_url: &str,
    request: &Request,
    items: &[T],
    page: usize,
    render: impl Fn(&T) -> serde_json::Value,
) -> Response {
    let start = match offset(request) {
        Ok(start) => start.min(items.len()),
        Err(response) => return response,
    };
    let end = start.saturating_add(page).min(items.len());
    let body = serde_json::Value::Array(items[start..end].iter().map(render).collect());
    let response = Response::json(200, &body);
    if end >= items.len() {
        return response;
    }
    let raw_query = request.raw_target.split_once('?').map_or("", |(_, q)| q);
    let mut pairs: Vec<&str> = raw_query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !pair.is_empty() && percent_decode(key, true).as_deref() != Some("cursor")
        })
        .collect();
    let cursor = format!("cursor={}", encode(end));
    pairs.push(&cursor);
    response.header(
        "Link",
        &format!(
            "<{base_url}{}?{}>; rel=\"next\"",
            request.raw_path,
            pairs.join("&")
        ),
    )
}
