//! HTTP API request bodies: every input is decoded as the body of each
//! endpoint (`/api/query|mutation|action`, `/api/query_at_ts`,
//! `/api/query_batch`, `/api/run/...`, and the `args` parameter of
//! `GET /api/query`) with the server's own request types and helpers, and
//! the function path is parsed as the runner does. Decoded arguments are
//! always an object, and re-encode in the requested format.

#![no_main]

use convex_rs::function::FunctionPath;
use convex_rs::fuzzing::{HttpBody, decode_http_body};
use convex_rs::value::Value;
use libfuzzer_sys::fuzz_target;

const ENDPOINTS: [HttpBody; 5] = [
    HttpBody::Call,
    HttpBody::QueryAtTs,
    HttpBody::QueryBatch,
    HttpBody::Run,
    HttpBody::GetQueryArgs,
];

fuzz_target!(|data: &[u8]| {
    for endpoint in ENDPOINTS {
        let Ok(calls) = decode_http_body(endpoint, data) else {
            continue;
        };
        for call in calls {
            assert!(
                matches!(call.args, Value::Object(_)),
                "arguments decoded to a non-object"
            );
            let _ = FunctionPath::parse(&call.path);
            // Encoded JSON must decode back to the same value; clean JSON
            // is lossy and only has to serialize.
            if let Ok(again) = Value::from_json(call.encoded_args.clone()) {
                if call.encoded_args == call.args.to_json() {
                    assert_eq!(
                        again, call.args,
                        "encoded arguments round trip changed them"
                    );
                }
            }
            serde_json::to_string(&call.encoded_args).expect("encoded arguments serialize");
        }
    }
});
