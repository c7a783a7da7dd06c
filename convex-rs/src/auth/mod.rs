//! Authentication: verifying users' JWTs against the deployment's trusted
//! providers (OIDC such as Clerk and Auth0, or any custom JWT issuer).
//!
//! A token is accepted when its issuer (`iss`) is a configured provider,
//! its algorithm is one the provider uses, it is signed by one of the
//! provider's keys, its audience (`aud`) names the provider's application
//! id (when one is set), it has not expired (`exp`, with
//! [`CLOCK_SKEW_LEEWAY`] of leeway) and was not issued in the future
//! (`iat`). Each failure has its own message. The accepted token becomes a
//! [`UserIdentity`](crate::function::UserIdentity) whose `token_identifier`
//! is `"<issuer>|<subject>"`.

mod config;
mod keys;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};
use thiserror::Error;

pub use config::{
    AuthConfig, AuthConfigError, CustomJwtKind, CustomJwtProvider, JwtAlgorithm, OidcProvider,
    Provider,
};
use keys::{KeyLocation, KeySource};

use base64::Engine;

use crate::function::{Identity, UserIdentity};

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How far a token's `exp` and `iat` may be off to allow for clocks that
/// disagree a little.
pub const CLOCK_SKEW_LEEWAY: Duration = Duration::from_secs(10);
/// How long fetching a provider's keys may take.
pub const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two fetches of a provider's keys caused by
/// tokens naming an unknown key, by default.
pub const DEFAULT_MIN_KEY_REFETCH: Duration = Duration::from_secs(10);

/// Why a token was refused. The message starts with a code (as Convex's
/// do): `NoAuthProvider`, `TokenExpired`, `InvalidAuthHeader` or
/// `AuthProviderUnavailable`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct AuthError {
    /// The code.
    pub code: &'static str,
    /// What is wrong, for the user.
    pub message: String,
}

impl AuthError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        AuthError {
            code: "InvalidAuthHeader",
            message: message.into(),
        }
    }

    pub(crate) fn keys(message: impl Into<String>) -> Self {
        AuthError {
            code: "AuthProviderUnavailable",
            message: message.into(),
        }
    }

    fn expired() -> Self {
        AuthError {
            code: "TokenExpired",
            message: "Token expired: the token's exp is in the past; fetch a fresh token".into(),
        }
    }
}

/// A verified token: who it names and until when it is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The user.
    pub identity: UserIdentity,
    /// When the token expires, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

impl VerifiedToken {
    /// Whether the token has expired by `now_secs` (with the leeway).
    pub fn is_expired_at(&self, now_secs: u64) -> bool {
        self.expires_at
            .is_some_and(|exp| now_secs > exp.saturating_add(CLOCK_SKEW_LEEWAY.as_secs()))
    }
}

struct ProviderState {
    /// The issuer as configured.
    issuer: String,
    algorithms: Vec<Algorithm>,
    application_id: Option<String>,
    keys: KeySource,
}

/// Verifies tokens against a deployment's providers. Cheap to share.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    providers: Vec<ProviderState>,
    http: reqwest::Client,
    min_refetch: Duration,
    admin_key: Option<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.inner.providers.iter().map(|p| &p.issuer))
            .finish()
    }
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator::new(&AuthConfig::new())
    }
}

/// An HTTP client for key servers: rustls with the webpki roots (no
/// platform TLS library), and a timeout so a slow key server fails the
/// token instead of holding its session.
///
/// It also installs *ring* as the process's default rustls crypto provider
/// (unless one is installed already), so that the app's own reqwest clients
/// (which share this build of reqwest, without a built-in provider) work.
fn http_client() -> reqwest::Client {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = reqwest::Client::builder()
        .timeout(KEY_FETCH_TIMEOUT)
        .connect_timeout(KEY_FETCH_TIMEOUT);
    let builder = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(tls) => builder
            .tls_backend_preconfigured(tls.with_root_certificates(roots).with_no_client_auth()),
        Err(e) => {
            tracing::error!(error = %e, "cannot configure TLS; https key URLs will fail");
            builder
        }
    };
    builder.build().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot build the key fetching client; using defaults");
        reqwest::Client::new()
    })
}

/// `iss` as compared: without a trailing `/`, with `https://` when it has
/// no scheme (as Convex compares them).
fn normalize_issuer(issuer: &str) -> String {
    let trimmed = issuer.trim_end_matches('/');
    if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    }
}

impl Authenticator {
    /// An authenticator for `config`'s providers (and no admin key).
    pub fn new(config: &AuthConfig) -> Self {
        Self::with_options(config, None, DEFAULT_MIN_KEY_REFETCH)
    }

    /// Like [`new`](Self::new), with another least time between key
    /// fetches caused by unknown key ids.
    pub fn with_min_key_refetch(config: &AuthConfig, min_refetch: Duration) -> Self {
        Self::with_options(config, None, min_refetch)
    }

    /// An authenticator for `config`'s providers that also accepts the
    /// deployment's `admin_key`.
    pub fn with_options(
        config: &AuthConfig,
        admin_key: Option<String>,
        min_refetch: Duration,
    ) -> Self {
        let providers = config
            .providers
            .iter()
            .map(|provider| match provider {
                Provider::Oidc(p) => ProviderState {
                    issuer: p.domain.clone(),
                    algorithms: vec![Algorithm::RS256, Algorithm::EdDSA],
                    application_id: Some(p.application_id.clone()),
                    keys: KeySource::new(KeyLocation::Discovery(p.domain.clone())),
                },
                Provider::CustomJwt(p) => ProviderState {
                    issuer: p.issuer.clone(),
                    algorithms: vec![match p.algorithm {
                        JwtAlgorithm::RS256 => Algorithm::RS256,
                        JwtAlgorithm::ES256 => Algorithm::ES256,
                    }],
                    application_id: p.application_id.clone(),
                    keys: KeySource::new(KeyLocation::Jwks(p.jwks.clone())),
                },
            })
            .collect();
        Authenticator {
            inner: Arc::new(Inner {
                providers,
                http: http_client(),
                min_refetch,
                admin_key: admin_key.filter(|k| !k.is_empty()),
            }),
        }
    }

    /// Checks an admin key; `acting_as` is the identity to act as (Convex's
    /// `UserIdentityAttributes`), if any. The result is
    /// [`Identity::Admin`] or [`Identity::ActingAs`].
    pub fn verify_admin(&self, key: &str, acting_as: Option<&Json>) -> Result<Identity, AuthError> {
        let Some(expected) = &self.inner.admin_key else {
            return Err(AuthError::invalid("this deployment has no admin key"));
        };
        if !same_secret(key.as_bytes(), expected.as_bytes()) {
            return Err(AuthError {
                code: "BadAdminKey",
                message: "The provided admin key was invalid for this instance".into(),
            });
        }
        match acting_as {
            None | Some(Json::Null) => Ok(Identity::Admin),
            Some(Json::Object(attributes)) => UserIdentity::from_attributes(attributes)
                .map(|u| Identity::ActingAs(Box::new(u)))
                .map_err(AuthError::invalid),
            Some(other) => Err(AuthError::invalid(format!(
                "the identity to act as must be an object, not {other}"
            ))),
        }
    }

    /// Checks an HTTP `Authorization: Convex <key>[:<base64 identity>]` value
    /// (what `ConvexHttpClient.setAdminAuth` sends).
    pub fn verify_admin_header(&self, value: &str) -> Result<Identity, AuthError> {
        let (key, acting_as) = match value.split_once(':') {
            None => (value, None),
            Some((key, encoded)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| {
                        AuthError::invalid(format!("the identity to act as is not base64: {e}"))
                    })?;
                let json: Json = serde_json::from_slice(&bytes).map_err(|e| {
                    AuthError::invalid(format!("the identity to act as is not JSON: {e}"))
                })?;
                (key, Some(json))
            }
        };
        self.verify_admin(key, acting_as.as_ref())
    }

    /// Whether any provider is configured.
    pub fn has_providers(&self) -> bool {
        !self.inner.providers.is_empty()
    }

    /// Verifies `token`; `now_secs` is the current time in seconds since
    /// the Unix epoch.
    pub async fn verify(&self, token: &str, now_secs: u64) -> Result<VerifiedToken, AuthError> {
        let undecodable = |e: jsonwebtoken::errors::Error| {
            AuthError::invalid(format!(
                "Could not parse JWT payload. Check that the token is a valid JWT format with three base64url parts separated by dots: {e}"
            ))
        };
        let header = jsonwebtoken::decode_header(token).map_err(undecodable)?;
        let unverified: Map<String, Json> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(undecodable)?;
        let Some(Json::String(issuer)) = unverified.get("iss") else {
            return Err(AuthError::invalid("the token has no iss (issuer) claim"));
        };
        let wanted = normalize_issuer(issuer);
        let Some(provider) = self
            .inner
            .providers
            .iter()
            .find(|p| normalize_issuer(&p.issuer) == wanted)
        else {
            let known: Vec<&str> = self
                .inner
                .providers
                .iter()
                .map(|p| p.issuer.as_str())
                .collect();
            return Err(AuthError {
                code: "NoAuthProvider",
                message: format!(
                    "No auth provider found matching the given token (issuer {issuer:?}). Check that your JWT's issuer and audience match one of your configured providers: {known:?}"
                ),
            });
        };
        if !provider.algorithms.contains(&header.alg) {
            return Err(AuthError::invalid(format!(
                "the token is signed with {:?}, which the provider {} does not use (it uses {:?})",
                header.alg, provider.issuer, provider.algorithms
            )));
        }
        let jwk = provider
            .keys
            .key(
                &self.inner.http,
                header.kid.as_deref(),
                self.inner.min_refetch,
            )
            .await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| AuthError::invalid(format!("the provider's key cannot be used: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = CLOCK_SKEW_LEEWAY.as_secs();
        validation.set_issuer(&[issuer]);
        match &provider.application_id {
            Some(app) => {
                validation.set_audience(&[app]);
                // Without this a token with no `aud` would pass the check.
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                check_audience(&unverified, app)?;
            }
            None => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            }
        }
        let claims = jsonwebtoken::decode::<Map<String, Json>>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::invalid(
                    "Could not verify token signature: it was not signed by the provider's key",
                ),
                ErrorKind::ExpiredSignature => AuthError::expired(),
                ErrorKind::InvalidAudience => AuthError::invalid(format!(
                    "the token's aud (audience) does not include the provider's applicationID {:?}",
                    provider.application_id.as_deref().unwrap_or_default()
                )),
                ErrorKind::InvalidIssuer => AuthError::invalid("the token's iss does not match"),
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::invalid(format!("the token has no {claim} claim"))
                }
                ErrorKind::ImmatureSignature => {
                    AuthError::invalid("the token is not valid yet (nbf is in the future)")
                }
                _ => AuthError::invalid(format!("the token is not valid: {e}")),
            })?
            .claims;
        match claims.get("iat") {
            None => {}
            Some(Json::Number(iat)) => {
                let iat = iat.as_f64().unwrap_or(f64::INFINITY);
                if iat > (now_secs + CLOCK_SKEW_LEEWAY.as_secs()) as f64 {
                    return Err(AuthError::invalid(
                        "the token's iat (issued at) is in the future",
                    ));
                }
            }
            Some(_) => return Err(AuthError::invalid("the token's iat is not a number")),
        }
        // Some issuers write fractional seconds; a number that is not a
        // time is refused (jsonwebtoken has checked it is in the future).
        let expires_at = match claims.get("exp").and_then(Json::as_f64) {
            Some(exp) if exp.is_finite() && exp >= 0.0 => {
                Some(exp.floor().min(u64::MAX as f64) as u64)
            }
            _ => {
                return Err(AuthError::invalid(
                    "the token's exp is not a time in seconds",
                ));
            }
        };
        let Some(Json::String(subject)) = claims.get("sub") else {
            return Err(AuthError::invalid(
                "the token's sub (subject) is not a string",
            ));
        };
        let identity = UserIdentity::from_claims(issuer, subject, &claims);
        Ok(VerifiedToken {
            identity,
            expires_at,
        })
    }
}

/// The token's `aud` must be the application id or a list holding it (and
/// nothing but strings).
fn check_audience(claims: &Map<String, Json>, app: &str) -> Result<(), AuthError> {
    let fits = match claims.get("aud") {
        Some(Json::String(aud)) => aud == app,
        Some(Json::Array(list)) => {
            list.iter().all(Json::is_string) && list.iter().any(|a| a.as_str() == Some(app))
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(AuthError::invalid(format!(
            "the token's aud (audience) does not include the provider's applicationID {app:?}"
        )))
    }
}

/// Keeps only the JSON claims that are not JWT bookkeeping.
pub(crate) fn custom_claims(
    claims: &Map<String, Json>,
    standard: &[&str],
) -> BTreeMap<String, Json> {
    const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];
    claims
        .iter()
        .filter(|(name, _)| {
            !REGISTERED.contains(&name.as_str()) && !standard.contains(&name.as_str())
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
