//! The HTTP API of protocol §4: `/api/query`, `/api/mutation`, `/api/action`,
//! `/api/query_ts`, `/api/query_at_ts`, `/api/query_batch`, `/api/run/...`.
//!
//! Function outcomes are always HTTP 200 with `status: "success" | "error"`;
//! malformed requests are 4xx with `{code, message}`.

use axum::Json as JsonResponse;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::AppState;
use crate::app::Backend;
use crate::function::{
    Caller, FunctionKind, FunctionOutcome, FunctionPath, Identity, args_from_wire,
};
use crate::value::{Value, decode_ts, encode_ts};

/// How values are encoded in a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Protocol §3 encoding (`$integer`, `$bytes`, ...).
    Encoded,
    /// "Clean" JSON: int64 as decimal strings, bytes as base64.
    Clean,
}

/// An error that is not a function outcome.
pub(crate) struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl HttpError {
    /// An error answered with `status` and `{code, message}`.
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The error's code, such as `BadJsonBody`.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            JsonResponse(json!({ "code": self.code, "message": self.message })),
        )
            .into_response()
    }
}

pub(crate) fn parse_format(format: Option<&str>, default: Format) -> Result<Format, HttpError> {
    match format {
        None => Ok(default),
        Some("convex_encoded_json" | "convex_json") => Ok(Format::Encoded),
        Some("json" | "convex_clean_json") => Ok(Format::Clean),
        Some(other) => Err(HttpError::bad_request(
            "BadFormat",
            format!("unknown format {other:?}; use \"json\" or \"convex_encoded_json\""),
        )),
    }
}

pub(crate) fn encode(value: &Value, format: Format) -> Json {
    match format {
        Format::Encoded => value.to_json(),
        Format::Clean => value.to_clean_json(),
    }
}

/// The caller named by the `Authorization` header: nobody without one, the
/// user of a `Bearer <jwt>` token verified against the app's providers, an
/// admin for `Convex <admin key>` (acting as the identity after a `:`).
/// A bad token is a 401 whose code and message say why.
pub(super) async fn identity(
    backend: &Backend,
    headers: &HeaderMap,
) -> Result<Identity, HttpError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Identity::Unauthenticated);
    };
    let value = value.to_str().unwrap_or_default();
    let unauthenticated = |code: &'static str, message: String| HttpError {
        status: StatusCode::UNAUTHORIZED,
        code,
        message,
    };
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => {
            let now = (crate::store::wall_clock_millis() / 1000.0) as u64;
            let verified = backend
                .runner()
                .auth()
                .verify(token.trim(), now)
                .await
                .map_err(|e| unauthenticated(e.code, e.message))?;
            Ok(Identity::User(Box::new(verified.identity)))
        }
        "convex" => backend
            .runner()
            .auth()
            .verify_admin_header(token.trim())
            .map_err(|e| unauthenticated(e.code, e.message)),
        _ => Err(unauthenticated(
            "InvalidAuthHeader",
            "the Authorization header must be `Bearer <token>` or `Convex <admin key>`".into(),
        )),
    }
}

pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, HttpError> {
    serde_json::from_slice(body)
        .map_err(|e| HttpError::bad_request("BadJsonBody", format!("invalid request body: {e}")))
}

/// `args` as `[obj]` (what the npm client sends) or a bare object.
pub(crate) fn parse_args(args: Option<Json>) -> Result<Value, HttpError> {
    let args = match args {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items,
        Some(object @ Json::Object(_)) => vec![object],
        Some(_) => {
            return Err(HttpError::bad_request(
                "InvalidArgs",
                "args must be an object or an array holding one object",
            ));
        }
    };
    args_from_wire(args).map_err(|message| HttpError::bad_request("InvalidArgs", message))
}

fn udf_response(outcome: FunctionOutcome, format: Format) -> Json {
    let mut body = match outcome.result {
        Ok(value) => json!({ "status": "success", "value": encode(&value, format) }),
        Err(failure) => {
            let mut body = json!({ "status": "error", "errorMessage": failure.message });
            if let Some(data) = &failure.data {
                body["errorData"] = encode(data, format);
            }
            body
        }
    };
    if !outcome.log_lines.is_empty() {
        body["logLines"] = json!(outcome.log_lines);
    }
    body
}

/// The body of `/api/query`, `/api/mutation`, `/api/action` and `/api/query_at_ts`.
#[derive(Deserialize)]
pub(crate) struct FunctionRequest {
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) args: Option<Json>,
    #[serde(default)]
    pub(crate) format: Option<String>,
    #[serde(default)]
    pub(crate) ts: Option<String>,
}

async fn call(
    state: &AppState,
    kind: FunctionKind,
    headers: &HeaderMap,
    body: &Bytes,
    at_ts: bool,
) -> Result<Json, HttpError> {
    let request: FunctionRequest = parse_body(body)?;
    let format = parse_format(request.format.as_deref(), Format::Clean)?;
    let identity = identity(&state.backend, headers).await?;
    let args = parse_args(request.args)?;
    let runner = state.backend.runner();
    let outcome = if at_ts {
        let ts = request
            .ts
            .as_deref()
            .ok_or_else(|| HttpError::bad_request("MissingTs", "query_at_ts needs a ts"))?;
        let ts = decode_ts(ts).map_err(|e| HttpError::bad_request("InvalidTs", e.to_string()))?;
        runner
            .run_query(&request.path, args, identity, Caller::Client, Some(ts))
            .await
            .outcome
    } else {
        runner
            .run(kind, &request.path, args, identity, Caller::Client)
            .await
    };
    Ok(udf_response(outcome, format))
}

/// `POST /api/query`.
pub(super) async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    call(&state, FunctionKind::Query, &headers, &body, false)
        .await
        .map(JsonResponse)
}

/// `POST /api/mutation`.
pub(super) async fn mutation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    call(&state, FunctionKind::Mutation, &headers, &body, false)
        .await
        .map(JsonResponse)
}

/// `POST /api/action`.
pub(super) async fn action(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    call(&state, FunctionKind::Action, &headers, &body, false)
        .await
        .map(JsonResponse)
}

/// `POST /api/query_at_ts`.
pub(super) async fn query_at_ts(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    call(&state, FunctionKind::Query, &headers, &body, true)
        .await
        .map(JsonResponse)
}

/// `POST /api/query_ts`.
pub(super) async fn query_ts(State(state): State<AppState>) -> JsonResponse<Json> {
    JsonResponse(json!({ "ts": encode_ts(state.backend.store().latest_ts()) }))
}

#[derive(Deserialize)]
pub(super) struct GetQuery {
    path: String,
    #[serde(default)]
    args: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/query?path=...&args=<json>&format=...`.
pub(super) async fn get_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<GetQuery>,
) -> Result<JsonResponse<Json>, HttpError> {
    let format = parse_format(q.format.as_deref(), Format::Clean)?;
    let args = match q.args {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| HttpError::bad_request("InvalidArgs", e.to_string()))?,
        ),
        None => None,
    };
    let args = parse_args(args)?;
    let outcome = state
        .backend
        .runner()
        .run(
            FunctionKind::Query,
            &q.path,
            args,
            identity(&state.backend, &headers).await?,
            Caller::Client,
        )
        .await;
    Ok(JsonResponse(udf_response(outcome, format)))
}

/// The body of `/api/query_batch`.
#[derive(Deserialize)]
pub(crate) struct BatchRequest {
    pub(crate) queries: Vec<FunctionRequest>,
}

/// `POST /api/query_batch`: every query at one timestamp.
pub(super) async fn query_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    let batch: BatchRequest = parse_body(&body)?;
    let identity = identity(&state.backend, &headers).await?;
    let ts = state.backend.store().latest_ts();
    let mut results = Vec::with_capacity(batch.queries.len());
    for q in batch.queries {
        let format = parse_format(q.format.as_deref(), Format::Clean)?;
        let args = parse_args(q.args)?;
        let outcome = state
            .backend
            .runner()
            .run_query(&q.path, args, identity.clone(), Caller::Client, Some(ts))
            .await
            .outcome;
        results.push(udf_response(outcome, format));
    }
    Ok(JsonResponse(json!({ "results": results })))
}

/// The body of `/api/run/...`.
#[derive(Deserialize)]
pub(crate) struct RunRequest {
    #[serde(default)]
    pub(crate) args: Option<Json>,
    #[serde(default)]
    pub(crate) format: Option<String>,
}

/// `POST /api/run/{dir}/{module}/{function}`: any kind of function; clean JSON by default.
pub(super) async fn run(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<JsonResponse<Json>, HttpError> {
    let request: RunRequest = if body.is_empty() {
        RunRequest {
            args: None,
            format: None,
        }
    } else {
        parse_body(&body)?
    };
    let format = parse_format(request.format.as_deref(), Format::Clean)?;
    let (module, name) = path.trim_matches('/').rsplit_once('/').ok_or_else(|| {
        HttpError::bad_request(
            "BadConvexFunctionIdentifier",
            "use /api/run/<module>/<function>",
        )
    })?;
    let function_path = FunctionPath::new(module, name).to_string();
    let identity = identity(&state.backend, &headers).await?;
    let args = parse_args(request.args)?;
    let runner = state.backend.runner();
    let kind = FunctionPath::parse(&function_path)
        .ok()
        .and_then(|p| runner.registry().get(&p).map(|f| f.entry.kind))
        .unwrap_or(FunctionKind::Query);
    let outcome = runner
        .run(kind, &function_path, args, identity, Caller::Client)
        .await;
    Ok(JsonResponse(udf_response(outcome, format)))
}

/// `POST /echo`.
pub(super) async fn echo(body: Bytes) -> Bytes {
    body
}
