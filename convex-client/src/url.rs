//! Deployment URL handling and function path canonicalisation.

use crate::error::ClientError;

/// The path of the sync WebSocket endpoint, appended to the deployment URL.
const SYNC_PATH: &str = "/api/sync";

/// Turns a deployment URL into the URL of its sync WebSocket.
///
/// `http` becomes `ws` and `https` becomes `wss`; `ws`/`wss` are accepted
/// as they are. Any path of the deployment URL (for a backend behind a path
/// prefix) is kept, trailing slashes removed, and `/api/sync` appended:
/// `http://127.0.0.1:3210` → `ws://127.0.0.1:3210/api/sync`.
///
/// TLS is not compiled into this crate, so secure URLs are rejected with an
/// explanation rather than failing later during the handshake.
pub(crate) fn deployment_to_ws_url(url: &str) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim();
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| invalid("it must start with \"http://\" (or \"ws://\")"))?;
    let ws_scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => {
            return Err(invalid(
                "secure (https/wss) connections need TLS, which this build of convex-client does not include; \
                 use an http:// URL (for example behind a TLS-terminating proxy)",
            ));
        }
        _ => return Err(invalid("the scheme must be http or ws")),
    };
    if rest.contains(['?', '#']) {
        return Err(invalid("it must not contain a query string or fragment"));
    }
    if rest.chars().any(char::is_whitespace) {
        return Err(invalid("it must not contain whitespace"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.starts_with(':') {
        return Err(invalid("it has no host"));
    }
    if authority.contains('@') {
        return Err(invalid(
            "credentials in the URL are not supported; use set_auth",
        ));
    }
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    if host.ends_with(".convex.site") {
        return Err(invalid(
            "it ends with .convex.site, which serves HTTP actions; use the .convex.cloud URL",
        ));
    }
    let path = path.trim_end_matches('/');
    Ok(format!("{ws_scheme}://{authority}{path}{SYNC_PATH}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_http_and_ws_urls() {
        let cases = [
            ("http://127.0.0.1:3210", "ws://127.0.0.1:3210/api/sync"),
            ("http://127.0.0.1:3210/", "ws://127.0.0.1:3210/api/sync"),
            ("HTTP://localhost:8080", "ws://localhost:8080/api/sync"),
            ("ws://example.test", "ws://example.test/api/sync"),
            (
                "http://example.test/prefix/",
                "ws://example.test/prefix/api/sync",
            ),
            ("  http://[::1]:3210 ", "ws://[::1]:3210/api/sync"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                deployment_to_ws_url(input).ok().as_deref(),
                Some(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_unusable_urls_with_a_reason() {
        for input in [
            "127.0.0.1:3210",
            "ftp://host",
            "http://",
            "http://:3210",
            "http://host?x=1",
            "http://user:pw@host",
            "http://my-app.convex.site",
            "http://a b",
        ] {
            match deployment_to_ws_url(input) {
                Err(ClientError::InvalidUrl { url, reason }) => {
                    assert_eq!(url, input);
                    assert!(!reason.is_empty());
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn secure_urls_explain_that_tls_is_missing() {
        for input in ["https://x.convex.cloud", "wss://x.convex.cloud"] {
            let err = deployment_to_ws_url(input)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("TLS"), "{err}");
        }
    }
}
