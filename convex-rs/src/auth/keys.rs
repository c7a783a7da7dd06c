//! Providers' signing keys: fetched from a JWKS URL (found through OIDC
//! discovery for OIDC providers) or read from a `data:` URI, cached, and
//! fetched again when a token names a key the cache does not have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::AuthError;

/// Where a provider's keys come from.
#[derive(Clone, Debug)]
pub(crate) enum KeyLocation {
    /// A JWKS URL or a `data:` URI.
    Jwks(String),
    /// An OIDC issuer: its discovery document names the JWKS URL.
    Discovery(String),
}

/// A provider's cached key set.
pub(crate) struct KeySource {
    location: KeyLocation,
    cache: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    keys: Option<Arc<JwkSet>>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried (successful or not): fetches caused by
    /// tokens are at most one per `min_refetch`, even while they fail.
    tried_at: Option<Instant>,
}

/// Keys older than this are fetched again before use, so a key a provider
/// withdrew stops being trusted.
const MAX_KEY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

impl KeySource {
    pub(crate) fn new(location: KeyLocation) -> Self {
        KeySource {
            location,
            cache: Mutex::new(Cached::default()),
        }
    }

    /// The key that signed a token with key id `kid` (or the only key, for
    /// a token without one). An unknown `kid` fetches the keys again, at
    /// most once per `min_refetch`, so a provider's key rotation is picked
    /// up without a restart.
    pub(crate) async fn key(
        &self,
        http: &reqwest::Client,
        kid: Option<&str>,
        min_refetch: Duration,
    ) -> Result<Jwk, AuthError> {
        let mut cache = self.cache.lock().await;
        let tried_recently =
            |cache: &Cached| cache.tried_at.is_some_and(|at| at.elapsed() < min_refetch);
        let stale = cache.fetched_at.is_none_or(|at| at.elapsed() > MAX_KEY_AGE);
        let keys = match (&cache.keys, stale) {
            (Some(keys), false) => keys.clone(),
            (Some(keys), true) if tried_recently(&cache) => keys.clone(),
            (Some(keys), true) => {
                let old = keys.clone();
                match self.refresh(http, &mut cache).await {
                    Ok(keys) => keys,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not refresh a provider's keys; using the cached ones");
                        old
                    }
                }
            }
            (None, _) if tried_recently(&cache) => {
                return Err(AuthError::keys(
                    "the provider's keys could not be fetched a moment ago; try again shortly",
                ));
            }
            (None, _) => self.refresh(http, &mut cache).await?,
        };
        match choose(&keys, kid)? {
            Some(key) => Ok(key),
            None => {
                let keys = if tried_recently(&cache) {
                    keys
                } else {
                    self.refresh(http, &mut cache).await?
                };
                choose(&keys, kid)?.ok_or_else(|| {
                    AuthError::invalid(format!(
                        "no key with kid {:?} in the provider's key set",
                        kid.unwrap_or_default()
                    ))
                })
            }
        }
    }

    async fn refresh(
        &self,
        http: &reqwest::Client,
        cache: &mut Cached,
    ) -> Result<Arc<JwkSet>, AuthError> {
        cache.tried_at = Some(Instant::now());
        let keys = Arc::new(fetch_keys(http, &self.location).await?);
        cache.keys = Some(keys.clone());
        cache.fetched_at = Some(Instant::now());
        Ok(keys)
    }
}

/// The key for `kid`; `Ok(None)` when the set has no such key.
fn choose(keys: &JwkSet, kid: Option<&str>) -> Result<Option<Jwk>, AuthError> {
    match kid {
        Some(kid) => Ok(keys
            .keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned()),
        None => match keys.keys.as_slice() {
            [only] => Ok(Some(only.clone())),
            [] => Err(AuthError::invalid("the provider's key set is empty")),
            several => Err(AuthError::invalid(format!(
                "the token has no kid (key id) in its header, and the provider has {} keys; a token must name its key",
                several.len()
            ))),
        },
    }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

async fn fetch_keys(http: &reqwest::Client, location: &KeyLocation) -> Result<JwkSet, AuthError> {
    match location {
        KeyLocation::Jwks(url) if url.starts_with("data:") => {
            let bytes =
                data_uri(url).map_err(|e| AuthError::keys(format!("the jwks data: URI {e}")))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| AuthError::keys(format!("the jwks data: URI is not a JWKS: {e}")))
        }
        KeyLocation::Jwks(url) => get_json(http, url).await,
        KeyLocation::Discovery(domain) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                domain.trim_end_matches('/')
            );
            let discovery: Discovery = get_json(http, &url).await?;
            get_json(http, &discovery.jwks_uri).await
        }
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, AuthError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| AuthError::keys(format!("cannot fetch {url}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(AuthError::keys(format!("{url} answered {status}")));
    }
    response
        .json()
        .await
        .map_err(|e| AuthError::keys(format!("{url} did not answer with the expected JSON: {e}")))
}

/// The bytes of a `data:[type][;base64],payload` URI.
fn data_uri(uri: &str) -> Result<Vec<u8>, String> {
    let rest = uri
        .strip_prefix("data:")
        .ok_or("does not start with data:")?;
    let (meta, payload) = rest.split_once(',').ok_or("has no comma before its data")?;
    if meta.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map_err(|e| format!("is not valid base64: {e}"))
    } else {
        percent_decode(payload)
    }
}

fn percent_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("has a bad escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_decode_in_both_encodings() {
        assert_eq!(
            data_uri("data:application/json,%7B%22keys%22%3A%5B%5D%7D"),
            Ok(br#"{"keys":[]}"#.to_vec())
        );
        assert_eq!(
            data_uri("data:application/json;base64,eyJrZXlzIjpbXX0="),
            Ok(br#"{"keys":[]}"#.to_vec())
        );
        assert!(data_uri("data:text/plain").is_err());
        assert!(data_uri("data:,%zz").is_err());
    }
}
