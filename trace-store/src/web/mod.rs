//! The web trace viewer, served at `/` on the query port (being written).

use axum::Router;

/// The viewer's routes: the page and its static assets.
pub fn router() -> Router {
    Router::new()
}
