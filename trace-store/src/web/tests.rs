//! Unit tests for the viewer's routes, over real HTTP on a loopback port (the crate has no
//! in-process service helpers, and this also checks the merge with the query API's router).

use super::*;
use crate::store::Store;

/// Serve the query API merged with the viewer, as `serve` does; returns the base URL.
async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = crate::api::router(Store::new(100)).merge(router());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn every_file_has_its_media_type_csp_and_cache_policy() {
    let base = start().await;
    let cases = [
        ("/", "text/html; charset=utf-8", "<!doctype html>"),
        ("/assets/app.js", "text/javascript; charset=utf-8", "import"),
        (
            "/assets/search.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/trace.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/detail.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/util.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/tree.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/chart.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        (
            "/assets/metrics.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        ("/assets/nav.js", "text/javascript; charset=utf-8", "export"),
        ("/assets/red.js", "text/javascript; charset=utf-8", "export"),
        (
            "/assets/graph.js",
            "text/javascript; charset=utf-8",
            "export",
        ),
        ("/assets/style.css", "text/css; charset=utf-8", "body"),
    ];
    for (path, content_type, start_of_body) in cases {
        let response = get(&format!("{base}{path}")).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        let csp = header(&response, "content-security-policy").to_owned();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.starts_with("default-src 'none';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        let body = response.text().await.unwrap();
        assert!(body.contains(start_of_body), "{path}");
    }
}

/// The page loads only its own files, and never inline code (which the CSP would block).
#[tokio::test]
async fn the_page_references_only_embedded_assets() {
    let base = start().await;
    let html = get(&format!("{base}/")).await.text().await.unwrap();
    for piece in html
        .split("src=\"")
        .skip(1)
        .chain(html.split("href=\"").skip(1))
    {
        let url = piece.split('"').next().unwrap();
        if url.starts_with('#') {
            continue;
        }
        assert!(url.starts_with("/assets/"), "{url}");
        assert_eq!(get(&format!("{base}{url}")).await.status(), 200, "{url}");
    }
    assert!(!html.contains("<script>"), "inline script in index.html");
    assert!(!html.contains(" style=\""), "inline style in index.html");
    let handler = html.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "inline event handler in index.html");
}

#[tokio::test]
async fn unknown_assets_are_404_and_the_api_still_answers() {
    let base = start().await;
    for path in [
        "/assets/nope.js",
        "/assets/",
        "/assets/../Cargo.toml",
        "/index.html",
    ] {
        let response = get(&format!("{base}{path}")).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.text().await.unwrap(), "404 page not found\n");
    }
    let echo = get(&format!("{base}/api/echo")).await;
    assert_eq!(echo.text().await.unwrap(), "echo\n");
}

#[tokio::test]
async fn a_matching_etag_gets_304_without_a_body() {
    let base = start().await;
    let first = get(&format!("{base}/assets/style.css")).await;
    let tag = header(&first, "etag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    let client = reqwest::Client::new();
    let again = client
        .get(format!("{base}/assets/style.css"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), tag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = client
        .get(format!("{base}/assets/app.js"))
        .header("If-None-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another file's tag does not match");
}

#[test]
fn etags_change_with_the_content() {
    assert_eq!(etag("a"), etag("a"));
    assert_ne!(etag("a"), etag("b"));
    assert_eq!(etag("").len(), 18, "16 hex digits in quotes");
}

/// Every module a script imports is one the server has: a missing one would only show as a
/// blank page in a browser.
#[test]
fn every_imported_module_is_served() {
    for asset in super::ASSETS {
        for piece in asset.body.split(" from './").skip(1) {
            let name = &piece[..piece.find('\'').unwrap_or(0)];
            assert!(
                super::ASSETS.iter().any(|a| a.name == name),
                "{} imports {name:?}, which is not served",
                asset.name
            );
        }
    }
}
