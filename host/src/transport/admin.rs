//! The admin API under `/admin` (only when `admin.token` is set): list, add and remove
//! mounts while pier serves. Every request needs `Authorization: Bearer <admin.token>`:
//! without it the answer is 401, with another token 403.
//!
//! - `GET /admin/mounts`: every mount in mount order, with its state and counts;
//! - `POST /admin/mounts`: a JSON object with the fields of a `[[mount]]` table; 201 with
//!   the new mount, 400 for a bad body, 409 for a namespace in use, 422 when the mount
//!   cannot be made (file refused, server unreachable);
//! - `DELETE /admin/mounts/{namespace}`: removes a configured or added mount.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use crate::App;
use crate::registry::mounts::Outcome;
use crate::registry::spec::RawMount;

/// The `/admin` routes.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/mounts", get(list).post(add))
        .route("/mounts/{namespace}", delete(remove))
        .layer(axum::middleware::from_fn_with_state(app, authorize))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Equal without telling how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authorize(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let expected = app.admin_token().unwrap_or_default();
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "the admin API needs `Authorization: Bearer <admin.token>`",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"pier-admin\""),
            );
            response
        }
        Some(token) if !same(token.as_bytes(), expected.as_bytes()) => {
            error(StatusCode::FORBIDDEN, "wrong admin token")
        }
        Some(_) => next.run(request).await,
    }
}

async fn list(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({ "mounts": app.mounts() }))
}

async fn add(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let raw: RawMount = match serde_json::from_slice(&body) {
        Ok(raw) => raw,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid mount: {e}")),
    };
    let spec = match raw.check() {
        Ok(spec) => spec,
        Err((key, message)) => return error(StatusCode::BAD_REQUEST, format!("{key}: {message}")),
    };
    let ns = spec.namespace.clone();
    if app
        .mounts()
        .iter()
        .any(|m| m.origin != "directory" && m.namespace == ns)
    {
        return error(
            StatusCode::CONFLICT,
            format!("namespace `{ns}` is used by another mount"),
        );
    }
    match app.attach(spec).await {
        Outcome::Refused { error: e, .. } => {
            app.detach(&ns).await;
            error(StatusCode::UNPROCESSABLE_ENTITY, e.reason)
        }
        _ => {
            let info = app
                .mounts()
                .into_iter()
                .rfind(|m| m.origin == "admin" && m.namespace == ns);
            (StatusCode::CREATED, Json(json!(info))).into_response()
        }
    }
}

async fn remove(State(app): State<Arc<App>>, Path(ns): Path<String>) -> Response {
    if app.detach(&ns).await.is_some() {
        return Json(json!({ "unmounted": ns })).into_response();
    }
    if app
        .mounts()
        .iter()
        .any(|m| m.origin == "directory" && m.namespace == ns)
    {
        return error(
            StatusCode::CONFLICT,
            format!("`{ns}` is mounted from the plugin directory: delete its file instead"),
        );
    }
    error(
        StatusCode::NOT_FOUND,
        format!("no mount with namespace `{ns}`"),
    )
}
