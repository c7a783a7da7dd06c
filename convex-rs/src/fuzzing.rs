//! Entry points for the cargo-fuzz targets in `fuzz/` (see `fuzz/README.md`).
//!
//! Thin wrappers around crate-private decoders that the server runs on
//! untrusted input, so the fuzz targets call the real code without the crate
//! making its internals public. Not a stable API: it exists only for the
//! fuzz targets.

use axum::body::Bytes;
use serde_json::Value as Json;

use crate::server::http_api::{
    BatchRequest, Format, FunctionRequest, HttpError, RunRequest, encode, parse_args, parse_body,
    parse_format,
};
use crate::value::{Value, decode_ts};

/// Decodes the `args` of a sync protocol `Mutation`, `Action` or query `Add`
/// as the session does (`[argsObject]`, or nothing). Exists for the fuzz
/// targets.
pub fn args_from_wire(args: Vec<Json>) -> Result<Value, String> {
    crate::function::args_from_wire(args)
}

/// An HTTP API request body, by the endpoint it is sent to. Exists for the
/// fuzz targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpBody {
    /// `POST /api/query`, `/api/mutation` or `/api/action`.
    Call,
    /// `POST /api/query_at_ts`.
    QueryAtTs,
    /// `POST /api/query_batch`.
    QueryBatch,
    /// `POST /api/run/...`.
    Run,
    /// The `args` query parameter of `GET /api/query`.
    GetQueryArgs,
}

/// One function call decoded from an HTTP API body. Exists for the fuzz
/// targets.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpCall {
    /// The function path as sent (the `/api/run/...` URL path is not part of
    /// the body: empty there).
    pub path: String,
    /// The arguments object.
    pub args: Value,
    /// The snapshot of a `query_at_ts` request.
    pub ts: Option<u64>,
    /// `args` encoded in the request's response format, as a result would be.
    pub encoded_args: Json,
}

/// Decodes an HTTP API request body with the server's own request types and
/// helpers, the way the handler for `endpoint` does before it runs the
/// function; an error is the code of the 4xx answer. Exists for the fuzz
/// targets.
pub fn decode_http_body(endpoint: HttpBody, body: &[u8]) -> Result<Vec<HttpCall>, &'static str> {
    let bytes = Bytes::copy_from_slice(body);
    let code = |e: HttpError| e.code();
    let call = |path: String, args: Value, ts: Option<u64>, format: Format| HttpCall {
        path,
        encoded_args: encode(&args, format),
        args,
        ts,
    };
    match endpoint {
        HttpBody::Call | HttpBody::QueryAtTs => {
            let request: FunctionRequest = parse_body(&bytes).map_err(code)?;
            let format = parse_format(request.format.as_deref(), Format::Clean).map_err(code)?;
            let args = parse_args(request.args).map_err(code)?;
            let ts = match (endpoint, request.ts.as_deref()) {
                (HttpBody::QueryAtTs, None) => return Err("MissingTs"),
                (HttpBody::QueryAtTs, Some(ts)) => Some(decode_ts(ts).map_err(|_| "InvalidTs")?),
                _ => None,
            };
            Ok(vec![call(request.path, args, ts, format)])
        }
        HttpBody::QueryBatch => {
            let batch: BatchRequest = parse_body(&bytes).map_err(code)?;
            batch
                .queries
                .into_iter()
                .map(|q| {
                    let format = parse_format(q.format.as_deref(), Format::Clean).map_err(code)?;
                    let args = parse_args(q.args).map_err(code)?;
                    Ok(call(q.path, args, None, format))
                })
                .collect()
        }
        HttpBody::Run => {
            let request: RunRequest = if body.is_empty() {
                RunRequest {
                    args: None,
                    format: None,
                }
            } else {
                parse_body(&bytes).map_err(code)?
            };
            let format = parse_format(request.format.as_deref(), Format::Clean).map_err(code)?;
            let args = parse_args(request.args).map_err(code)?;
            Ok(vec![call(String::new(), args, None, format)])
        }
        HttpBody::GetQueryArgs => {
            let text = std::str::from_utf8(body).map_err(|_| "InvalidArgs")?;
            let args: Json = serde_json::from_str(text).map_err(|_| "InvalidArgs")?;
            let args = parse_args(Some(args)).map_err(code)?;
            Ok(vec![call(String::new(), args, None, Format::Clean)])
        }
    }
}
