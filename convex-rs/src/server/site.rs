//! The site origin (`serve --site-listen`): every request goes to the HTTP
//! action its method and path route to.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::http_api::{HttpError, identity};
use crate::app::Backend;
use crate::function::{ActionCtx, LogLines};
use crate::http::{Body, MAX_HTTP_BODY_BYTES};

/// Runs the HTTP action routed to by `request`.
pub(super) async fn dispatch(State(backend): State<Backend>, request: Request) -> Response {
    match run(&backend, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn too_large(what: &str) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLarge",
        format!("the {what} is larger than the limit of {MAX_HTTP_BODY_BYTES} bytes"),
    )
}

async fn run(backend: &Backend, request: Request) -> Result<Response, HttpError> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let action = backend.http().lookup(&method, &path).ok_or_else(|| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            "NoMatchingRoute",
            format!("no HTTP action is routed for {method} {path}"),
        )
    })?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_HTTP_BODY_BYTES as u64) {
        crate::http::drain(&mut request.into_body().into_data_stream()).await;
        return Err(too_large("request body"));
    }
    let identity = identity(backend, request.headers()).await?;
    let exceeded = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::from(body).limited(MAX_HTTP_BODY_BYTES, exceeded.clone());
    let logs = Arc::new(LogLines::default());
    let ctx = ActionCtx {
        runner: backend.runner().clone(),
        identity,
        logs: logs.clone(),
    };
    let result = action
        .call(ctx, http::Request::from_parts(parts, body))
        .await;
    for line in logs.take() {
        tracing::info!(action = action.name(), "{line}");
    }
    if exceeded.load(Ordering::SeqCst) {
        return Err(too_large("request body"));
    }
    let response = result.map_err(|error| {
        tracing::error!(
            action = action.name(),
            "HTTP action {method} {path} failed: {error}"
        );
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "HttpActionFailed",
            error.to_string(),
        )
    })?;
    let (parts, body) = response.into_parts();
    if body
        .known_len()
        .is_some_and(|len| len > MAX_HTTP_BODY_BYTES)
    {
        tracing::error!(
            action = action.name(),
            "HTTP action {method} {path} returned more than {MAX_HTTP_BODY_BYTES} bytes"
        );
        return Err(HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ResponseTooLarge",
            format!("the response is larger than the limit of {MAX_HTTP_BODY_BYTES} bytes"),
        ));
    }
    // A streamed response is cut off once it passes the limit.
    let body = body.limited(MAX_HTTP_BODY_BYTES, Arc::new(AtomicBool::new(false)));
    Ok(Response::from_parts(parts, axum::body::Body::from(body)))
}
