//! The web trace viewer, served at `/` on the query port next to Tempo's API.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the page (`index.html`) |
//! | `GET /assets/{name}` | one of the page's scripts or its style sheet; 404 for any other name |
//!
//! The page is plain HTML, CSS and JavaScript modules, compiled into the binary with
//! `include_str!`, so nothing is built or read from disk at run time. It talks to the same
//! `/api/search`, `/api/traces/{id}`, tag-values and `/api/metrics/query_range` endpoints as Grafana, from the same origin.
//! The page and its assets are public even when the store has a token (see `auth.rs`); the
//! API is not, so on a 401 the page asks for the token and sends it as a Bearer header.
//!
//! Span names and attributes come from whoever can reach the OTLP port, so the page never turns
//! data into markup (it only sets `textContent`), and a strict `Content-Security-Policy` stops
//! any script the page did not ship from running if that rule is ever broken.

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, StatusCode};

/// Same-origin scripts, styles and fetches only; no inline code, no plugins, no framing.
pub(crate) const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// `no-cache` means "revalidate before use", not "do not store": the files carry no version in
/// their names, so a browser must ask after every upgrade of the binary, and the ETag turns that
/// question into a cheap 304.
const CACHE: &str = "no-cache";

/// One embedded file and its media type.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("index.html"),
};

/// Everything under `/assets/`. Scripts are ES modules, which browsers only run when served
/// with a JavaScript media type.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("app.js"),
    },
    Asset {
        name: "search.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("search.js"),
    },
    Asset {
        name: "trace.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("trace.js"),
    },
    Asset {
        name: "detail.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("detail.js"),
    },
    Asset {
        name: "util.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("util.js"),
    },
    Asset {
        name: "tree.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("tree.js"),
    },
    Asset {
        name: "chart.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("chart.js"),
    },
    Asset {
        name: "metrics.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("metrics.js"),
    },
    Asset {
        name: "red.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("red.js"),
    },
    Asset {
        name: "graph.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("graph.js"),
    },
    Asset {
        name: "nav.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("nav.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("style.css"),
    },
];

/// The viewer's routes: the page and its static assets. No fallback, so the query API's
/// Tempo-style 404 still answers every other path after the merge.
pub(crate) fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve(&INDEX, &headers) }),
        )
        .route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, &headers),
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

/// The file with its headers, or a 304 if the browser already holds this version.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = etag(asset.body);
    let common = [
        (CACHE_CONTROL, CACHE),
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        // Trace ids in the URL are nobody else's business.
        (REFERRER_POLICY, "no-referrer"),
    ];
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    if fresh {
        return (StatusCode::NOT_MODIFIED, common, [(ETAG, etag)]).into_response();
    }
    (
        common,
        [(CONTENT_TYPE, asset.content_type.to_owned()), (ETAG, etag)],
        asset.body,
    )
        .into_response()
}

/// A strong ETag from the content (64-bit FNV-1a): stable across restarts of the same binary,
/// different when a file changes, and cheap enough to compute per request for files this small.
fn etag(body: &str) -> String {
    let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests;
