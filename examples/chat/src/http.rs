//! The chat's HTTP actions, served on the site origin (`--site-listen`):
//! `GET /messages`, `POST /messages`, `OPTIONS /messages` and `POST /upload`.

// ANCHOR: imports
use convex_rs::http::{Body, HttpRequest, HttpResponse, HttpRouter, Method, StatusCode, header};
use convex_rs::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::User;
use crate::messages;
// ANCHOR_END: imports

/// How many messages `GET /messages` returns.
const RECENT: f64 = 100.0;

// ANCHOR: router
/// The chat's routes.
pub fn router() -> HttpRouter {
    HttpRouter::new()
        .route(Method::GET, "/messages", list_messages)
        .route(Method::POST, "/messages", post_message)
        .route(Method::OPTIONS, "/messages", preflight)
        .route(Method::POST, "/upload", upload)
}
// ANCHOR_END: router

// ANCHOR: cors
/// Lets browser pages on any origin call `/messages`.
fn with_cors(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    response
}

/// Answers the browser's preflight request before a cross-origin `POST /messages`.
#[http_action]
async fn preflight(_ctx: &ActionCtx, _request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    let mut response = with_cors(HttpResponse::new(Body::empty()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::HeaderValue::from_static("GET, POST"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        header::HeaderValue::from_static("86400"),
    );
    Ok(response)
}
// ANCHOR_END: cors

/// A JSON response.
fn json_response(status: StatusCode, value: &serde_json::Value) -> HttpResponse {
    let mut response = HttpResponse::new(Body::json(value));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    with_cors(response)
}

// ANCHOR: list_messages
/// `GET /messages`: the last 100 messages, oldest first.
#[http_action]
async fn list_messages(
    ctx: &ActionCtx,
    _request: HttpRequest,
) -> Result<HttpResponse, FunctionError> {
    let recent = ctx
        .run_query::<messages::recent>(messages::RecentArgs { limit: RECENT })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(recent)?,
    ))
}
// ANCHOR_END: list_messages

/// The body `POST /messages` takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    body: String,
    user: Id<User>,
}

/// The body of `POST /messages`: a JSON object (not an array, which serde
/// would also accept for a struct) with exactly `body` and `user`.
async fn parse_new_message(request: HttpRequest) -> Result<NewMessage, String> {
    let value: serde_json::Value = request
        .into_body()
        .json_as()
        .await
        .map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("the body is not a JSON object".to_string());
    }
    serde_json::from_value(value).map_err(|e| format!("the body is not the JSON expected: {e}"))
}

// ANCHOR: post_message
/// `POST /messages` with `{"body", "user"}`: sends a message and answers
/// `{"id"}`; a body that is not such an object is a 400 saying why.
#[http_action]
async fn post_message(
    ctx: &ActionCtx,
    request: HttpRequest,
) -> Result<HttpResponse, FunctionError> {
    let message = match parse_new_message(request).await {
        Ok(message) => message,
        Err(error) => {
            let error = format!("{error}; send {{\"body\": string, \"user\": users id}}");
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &json!({ "error": error }),
            ));
        }
    };
    let sent = ctx
        .run_mutation::<messages::send>(messages::SendArgs {
            body: message.body,
            user: message.user,
        })
        .await;
    Ok(match sent {
        Ok(id) => json_response(StatusCode::OK, &json!({ "id": id })),
        // The mutation refused it (an empty body, an unknown user).
        Err(error) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "error": error.to_string(), "data": error.data() }),
        ),
    })
}
// ANCHOR_END: post_message

// ANCHOR: upload
/// `POST /upload`: stores the request body as a file and answers `{"storageId"}`.
#[http_action]
async fn upload(ctx: &ActionCtx, request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let bytes = request.into_body().bytes().await?;
    let id = ctx.storage().store(bytes, content_type.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &json!({ "storageId": id })))
}
// ANCHOR_END: upload
