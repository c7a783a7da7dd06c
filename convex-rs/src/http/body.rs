//! The body of an HTTP action's request or response: bytes, or a stream of
//! chunks, with the size limit enforced as it is read.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Why a body could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the limit (the request is answered with 413).
    #[error("the body is larger than {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// The connection failed while the body was read.
    #[error("reading the body failed: {0}")]
    Read(String),
    /// The body is not UTF-8 text.
    #[error("the body is not UTF-8 text")]
    NotText,
    /// The body is not the JSON expected.
    #[error("the body is not the JSON expected: {0}")]
    Json(String),
}

/// The most of an over-limit body read (and dropped) before answering 413:
/// a server that answers while the client is still sending, then closes,
/// makes the connection reset, and the client never sees the answer.
const DRAIN_BYTES: usize = 64 << 20;
/// How long that reading may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and drops what is left of `chunks` (up to [`DRAIN_BYTES`], for
/// [`DRAIN_TIME`] at most), so a refusal sent now reaches the client.
pub(crate) async fn drain<S, E>(chunks: &mut S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = chunks.next().await {
            match left.checked_sub(chunk.len()) {
                Some(rest) => left = rest,
                None => break,
            }
        }
    })
    .await;
}

enum Inner {
    Full(Bytes),
    Stream(BoxStream<'static, Result<Bytes, BodyError>>),
}

/// The body of an [`HttpRequest`](super::HttpRequest) or
/// [`HttpResponse`](super::HttpResponse).
///
/// ```
/// use convex_rs::http::Body;
/// let body = Body::from("hello");
/// # let _ = body;
/// let json = Body::json(&serde_json::json!({ "ok": true }));
/// # let _ = json;
/// ```
pub struct Body(Inner);

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Full(bytes) => write!(f, "Body({} bytes)", bytes.len()),
            Inner::Stream(_) => f.write_str("Body(stream)"),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl Body {
    /// No bytes.
    pub fn empty() -> Body {
        Body(Inner::Full(Bytes::new()))
    }

    /// `value` serialized as JSON (a value serde_json cannot write, such as
    /// a map with non-string keys, becomes `{"error": "..."}` saying why).
    pub fn json(value: &impl Serialize) -> Body {
        // Serializing to a Vec fails only for maps with non-string keys.
        match serde_json::to_vec(value) {
            Ok(bytes) => Body::from(bytes),
            Err(e) => Body::from(serde_json::json!({ "error": e.to_string() }).to_string()),
        }
    }

    /// A body streamed from `chunks`.
    pub fn from_stream<S, E>(chunks: S) -> Body
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: fmt::Display,
    {
        Body(Inner::Stream(
            chunks.map_err(|e| BodyError::Read(e.to_string())).boxed(),
        ))
    }

    /// Reads the whole body.
    pub async fn bytes(self) -> Result<Bytes, BodyError> {
        match self.0 {
            Inner::Full(bytes) => Ok(bytes),
            Inner::Stream(mut chunks) => {
                let mut all = Vec::new();
                while let Some(chunk) = chunks.next().await {
                    all.extend_from_slice(&chunk?);
                }
                Ok(all.into())
            }
        }
    }

    /// Reads the whole body as UTF-8 text.
    pub async fn text(self) -> Result<String, BodyError> {
        String::from_utf8(self.bytes().await?.into()).map_err(|_| BodyError::NotText)
    }

    /// Reads the whole body as JSON.
    pub async fn json_as<T: DeserializeOwned>(self) -> Result<T, BodyError> {
        serde_json::from_slice(&self.bytes().await?).map_err(|e| BodyError::Json(e.to_string()))
    }

    /// The body's chunks as they arrive.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, BodyError>> {
        match self.0 {
            Inner::Full(bytes) => futures::stream::iter([Ok(bytes)]).boxed(),
            Inner::Stream(chunks) => chunks,
        }
    }

    /// The length, when the whole body is in memory.
    pub(crate) fn known_len(&self) -> Option<usize> {
        match &self.0 {
            Inner::Full(bytes) => Some(bytes.len()),
            Inner::Stream(_) => None,
        }
    }

    /// The body cut off with [`BodyError::TooLarge`] past `max` bytes;
    /// `exceeded` is set when that happens.
    pub(crate) fn limited(self, max: usize, exceeded: Arc<AtomicBool>) -> Body {
        match self.0 {
            Inner::Full(bytes) if bytes.len() > max => {
                exceeded.store(true, Ordering::SeqCst);
                Body::from_stream(futures::stream::iter([Err::<Bytes, _>(
                    BodyError::TooLarge { max },
                )]))
            }
            Inner::Full(bytes) => Body(Inner::Full(bytes)),
            Inner::Stream(chunks) => {
                // Past the limit the rest is drained, then the error ends the stream.
                let limited = futures::stream::unfold(
                    (chunks, 0usize, false),
                    move |(mut chunks, mut seen, ended)| {
                        let exceeded = exceeded.clone();
                        async move {
                            if ended {
                                return None;
                            }
                            let chunk = match chunks.next().await? {
                                Ok(chunk) => chunk,
                                Err(error) => return Some((Err(error), (chunks, seen, true))),
                            };
                            seen += chunk.len();
                            if seen > max {
                                exceeded.store(true, Ordering::SeqCst);
                                drain(&mut chunks).await;
                                return Some((
                                    Err(BodyError::TooLarge { max }),
                                    (chunks, seen, true),
                                ));
                            }
                            Some((Ok(chunk), (chunks, seen, false)))
                        }
                    },
                );
                Body(Inner::Stream(limited.boxed()))
            }
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body(Inner::Full(bytes))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body(Inner::Full(bytes.into()))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body(Inner::Full(text.into()))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body(Inner::Full(Bytes::from_static(text.as_bytes())))
    }
}

impl From<axum::body::Body> for Body {
    fn from(body: axum::body::Body) -> Self {
        Body::from_stream(body.into_data_stream())
    }
}

impl From<Body> for axum::body::Body {
    fn from(body: Body) -> Self {
        match body.0 {
            Inner::Full(bytes) => axum::body::Body::from(bytes),
            Inner::Stream(chunks) => axum::body::Body::from_stream(chunks),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::Body;

    #[tokio::test]
    async fn json_bodies_are_json_even_when_the_value_cannot_be_written() {
        let ok: serde_json::Value = Body::json(&serde_json::json!({ "a": [1, "é"] }))
            .json_as()
            .await
            .expect("JSON");
        assert_eq!(ok, serde_json::json!({ "a": [1, "é"] }));
        // Non-string map keys: serde_json refuses them.
        let unwritable = BTreeMap::from([((1, 2), "x\u{1}\"")]);
        let error: serde_json::Value = Body::json(&unwritable).json_as().await.expect("JSON");
        assert!(
            error["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
}
