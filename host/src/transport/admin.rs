//! The admin API under `/admin` (only when `admin.token` is set): list, add and remove
//! mounts while pier serves. Every request needs `Authorization: Bearer <admin.token>`:
//! without it the answer is 401, with another token 403.
//!
//! - `GET /admin/mounts`: every mount in mount order, with its state and counts;
//! - `POST /admin/mounts`: a JSON object with the fields of a `[[mount]]` table; 201 with
//!   the new mount, 400 for a bad body, 409 for a namespace in use, 422 when the mount
//!   cannot be made (file refused, server unreachable). The mount is kept in the store
//!   (`pier/mounts/{namespace}`): every replica sharing it mounts it too, and this one
//!   after a restart ([`crate::fleet::mounts`]); 503 when the store fails;
//! - `DELETE /admin/mounts/{namespace}`: removes a configured or added mount (503 when
//!   the store fails);
//! - `GET /admin/storage/{plugin}?prefix=&cursor=`: a page of a plugin's storage keys;
//! - `GET /admin/storage/{plugin}/{key}`: the value (`text` when it is UTF-8, otherwise
//!   `base64`), 404 when there is none;
//! - `DELETE /admin/storage/{plugin}/{key}`: deletes it, 404 when there is none.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use crate::App;
use crate::fleet::mounts::ChangeError;
use crate::registry::mounts::Outcome;
use crate::registry::spec::RawMount;
use crate::storage::{PluginStore, Quota, ScopedError};

/// The `/admin` routes.
pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/mounts", get(list).post(add))
        .route("/mounts/{namespace}", delete(remove))
        .route("/storage/{plugin}", get(storage_keys))
        .route(
            "/storage/{plugin}/{*key}",
            get(storage_get).delete(storage_delete),
        )
        .layer(axum::middleware::from_fn_with_state(app, authorize))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `admin.token`, or (with auth on) a token carrying `admin.scope`.
async fn authorize(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match admitted(&app, request.headers()).await {
        Ok(_) => next.run(request).await,
        Err(refusal) => refusal,
    }
}

/// Who may use the admin API (and the console's): the holder of `admin.token`
/// (subject [`crate::console::SUBJECT`]), or with auth on a token carrying
/// `admin.scope`; with neither configured (only the console, on loopback), anyone.
/// Otherwise the answer to give: 401, or 403 for another token or scope.
pub async fn admitted(
    app: &App,
    headers: &axum::http::HeaderMap,
) -> Result<crate::auth::Identity, Response> {
    let verifier = app.verifier();
    let admin = || crate::auth::Identity {
        subject: crate::console::SUBJECT.into(),
        scopes: vec![verifier.auth().admin_scope.clone()],
        expires: None,
    };
    let given = crate::auth::bearer(headers).ok();
    if let (Some(given), Some(expected)) = (given, app.admin_token())
        && crate::auth::same_secret(given.as_bytes(), expected.as_bytes())
    {
        return Ok(admin());
    }
    if verifier.auth().enabled() {
        let scope = &verifier.auth().admin_scope;
        let refusal = match verifier.verify(headers).await {
            Ok(identity) if identity.scopes.contains(scope) => return Ok(identity),
            Ok(_) => crate::auth::Refusal::Scope(vec![scope.clone()]),
            Err(why) => why,
        };
        return Err(crate::auth::refused(verifier, &refusal));
    }
    if app.admin_token().is_none() {
        return Ok(admin());
    }
    Err(match given {
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
        Some(_) => error(StatusCode::FORBIDDEN, "wrong admin token"),
    })
}

async fn list(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({ "mounts": app.mounts() }))
}

async fn add(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid mount: {e}")),
    };
    let raw: RawMount = match serde_json::from_value(body.clone()) {
        Ok(raw) => raw,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid mount: {e}")),
    };
    let spec = match raw.check() {
        Ok(spec) => spec,
        Err((key, message)) => return error(StatusCode::BAD_REQUEST, format!("{key}: {message}")),
    };
    if let Some(reason) = app.admin_refuses(&spec) {
        return error(StatusCode::FORBIDDEN, reason);
    }
    let ns = spec.namespace.clone();
    match app.add_mount(body, spec).await {
        Err(ChangeError::Taken(taken)) => error(StatusCode::CONFLICT, taken.to_string()),
        Err(e @ ChangeError::Store(_)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Ok(Outcome::Refused { error: e, .. }) => error(StatusCode::UNPROCESSABLE_ENTITY, e.reason),
        Ok(_) => {
            let info = app
                .mounts()
                .into_iter()
                .rfind(|m| m.origin == "admin" && m.namespace == ns);
            (StatusCode::CREATED, Json(json!(info))).into_response()
        }
    }
}

async fn remove(State(app): State<Arc<App>>, Path(ns): Path<String>) -> Response {
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
    match app.remove_mount(&ns).await {
        Ok(Some(_)) => Json(json!({ "unmounted": ns })).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no mount with namespace `{ns}`"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `prefix` and `cursor` of the query of `GET /admin/storage/{plugin}`.
fn keys_query(query: Option<&str>) -> (String, Option<String>) {
    let (mut prefix, mut cursor) = (String::new(), None);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*name {
            "prefix" => prefix = value.into_owned(),
            "cursor" => cursor = Some(value.into_owned()),
            _ => {}
        }
    }
    (prefix, cursor)
}

/// The operator's view of `plugin`'s keys: the same scoping as the plugin's own.
fn plugin_store(app: &App, plugin: &str) -> PluginStore {
    PluginStore::new(app.store().clone(), plugin, Quota::default())
}

fn failed(e: ScopedError) -> Response {
    match e {
        ScopedError::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, m),
        ScopedError::InvalidKey(m) | ScopedError::QuotaExceeded(m) => {
            error(StatusCode::BAD_REQUEST, m)
        }
    }
}

async fn storage_keys(
    State(app): State<Arc<App>>,
    Path(plugin): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let (prefix, cursor) = keys_query(query.as_deref());
    match plugin_store(&app, &plugin)
        .list_keys(&prefix, cursor.as_deref())
        .await
    {
        Ok(page) => {
            Json(json!({ "keys": page.keys, "next_cursor": page.next_cursor })).into_response()
        }
        Err(e) => failed(e),
    }
}

fn no_key(plugin: &str, key: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("plugin `{plugin}` has no key `{key}`"),
    )
}

async fn storage_get(
    State(app): State<Arc<App>>,
    Path((plugin, key)): Path<(String, String)>,
) -> Response {
    match plugin_store(&app, &plugin).get(&key).await {
        Ok(Some(value)) => Json(match String::from_utf8(value) {
            Ok(text) => json!({ "key": key, "text": text }),
            Err(e) => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(e.into_bytes());
                json!({ "key": key, "base64": encoded })
            }
        })
        .into_response(),
        Ok(None) => no_key(&plugin, &key),
        Err(e) => failed(e),
    }
}

async fn storage_delete(
    State(app): State<Arc<App>>,
    Path((plugin, key)): Path<(String, String)>,
) -> Response {
    match plugin_store(&app, &plugin).delete(&key).await {
        Ok(true) => Json(json!({ "deleted": key })).into_response(),
        Ok(false) => no_key(&plugin, &key),
        Err(e) => failed(e),
    }
}
