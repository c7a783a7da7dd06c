//! Which token issuers a deployment trusts: the `providers` of Convex's
//! `auth.config.ts`, in code or as a JSON file.

use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

/// Problems reading an auth configuration.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// The file could not be read.
    #[error("cannot read the auth config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is not an auth config.
    #[error("the auth config {path} is not valid: {reason}")]
    Invalid {
        /// The file (or `<inline>`).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The signing algorithms a custom JWT provider may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// RSA with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
}

/// One trusted issuer of user tokens.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Provider {
    /// A custom JWT issuer: `{"type": "customJwt", "issuer", "jwks", "algorithm", "applicationID"?}`.
    CustomJwt(CustomJwtProvider),
    /// An OpenID Connect provider (Clerk, Auth0, ...): `{"domain", "applicationID"}`.
    /// Its keys are found through `<domain>/.well-known/openid-configuration`.
    Oidc(OidcProvider),
}

/// An OpenID Connect provider.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// The issuer URL; tokens' `iss` must equal it.
    pub domain: String,
    /// The audience; tokens' `aud` must contain it.
    #[serde(rename = "applicationID")]
    pub application_id: String,
}

/// A custom JWT provider.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomJwtProvider {
    /// Always `"customJwt"`.
    #[serde(rename = "type")]
    pub kind: CustomJwtKind,
    /// Tokens' `iss` must equal it.
    pub issuer: String,
    /// Where its keys are: an `http(s)` URL of a JWKS, or a `data:` URI holding one.
    pub jwks: String,
    /// The algorithm its tokens are signed with.
    pub algorithm: JwtAlgorithm,
    /// When set, tokens' `aud` must contain it.
    #[serde(rename = "applicationID", default)]
    pub application_id: Option<String>,
}

/// The `type` of a custom JWT provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum CustomJwtKind {
    /// `"customJwt"`.
    #[serde(rename = "customJwt")]
    CustomJwt,
}

/// The providers a deployment trusts.
///
/// ```
/// use convex_rs::auth::AuthConfig;
///
/// let config = AuthConfig::from_json(r#"{"providers": [
///     {"domain": "https://clerk.example.com", "applicationID": "convex"},
///     {"type": "customJwt", "issuer": "https://auth.example.com",
///      "jwks": "https://auth.example.com/.well-known/jwks.json", "algorithm": "RS256"}
/// ]}"#).expect("valid");
/// assert_eq!(config.providers.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The trusted issuers.
    pub providers: Vec<Provider>,
}

impl AuthConfig {
    /// No providers: every user token is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an OpenID Connect provider.
    pub fn oidc(mut self, domain: impl Into<String>, application_id: impl Into<String>) -> Self {
        self.providers.push(Provider::Oidc(OidcProvider {
            domain: domain.into(),
            application_id: application_id.into(),
        }));
        self
    }

    /// Adds a custom JWT provider.
    pub fn custom_jwt(
        mut self,
        issuer: impl Into<String>,
        jwks: impl Into<String>,
        algorithm: JwtAlgorithm,
        application_id: Option<String>,
    ) -> Self {
        self.providers.push(Provider::CustomJwt(CustomJwtProvider {
            kind: CustomJwtKind::CustomJwt,
            issuer: issuer.into(),
            jwks: jwks.into(),
            algorithm,
            application_id,
        }));
        self
    }

    /// Parses `{"providers": [...]}`.
    pub fn from_json(json: &str) -> Result<Self, AuthConfigError> {
        Self::parse(json, "<inline>")
    }

    /// Reads and parses a JSON file.
    pub fn from_file(path: &Path) -> Result<Self, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(json: &str, path: &str) -> Result<Self, AuthConfigError> {
        let invalid = |reason: String| AuthConfigError::Invalid {
            path: path.to_string(),
            reason,
        };
        let config: AuthConfig = serde_json::from_str(json).map_err(|e| {
            invalid(format!(
                "{e}; expected {{\"providers\": [{{\"domain\", \"applicationID\"}} or {{\"type\": \"customJwt\", \"issuer\", \"jwks\", \"algorithm\": \"RS256\"|\"ES256\", \"applicationID\"?}}]}}"
            ))
        })?;
        for provider in &config.providers {
            let (what, url) = match provider {
                Provider::Oidc(p) => ("domain", p.domain.as_str()),
                Provider::CustomJwt(p) => ("jwks", p.jwks.as_str()),
            };
            let scheme_ok = url.starts_with("https://")
                || url.starts_with("http://")
                || (what == "jwks" && url.starts_with("data:"));
            if !scheme_ok {
                return Err(invalid(format!(
                    "{what} {url:?} must be an http(s) URL{}",
                    if what == "jwks" {
                        " or a data: URI"
                    } else {
                        ""
                    }
                )));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_of_provider_parse() {
        let config = AuthConfig::from_json(
            r#"{"providers": [
                {"domain": "https://issuer.example", "applicationID": "app"},
                {"type": "customJwt", "issuer": "https://i.example", "jwks": "data:application/json,{}", "algorithm": "ES256", "applicationID": "a"}
            ]}"#,
        )
        .expect("valid");
        assert_eq!(
            config,
            AuthConfig::new()
                .oidc("https://issuer.example", "app")
                .custom_jwt(
                    "https://i.example",
                    "data:application/json,{}",
                    JwtAlgorithm::ES256,
                    Some("a".into())
                )
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let error = |json: &str| AuthConfig::from_json(json).expect_err(json).to_string();
        assert!(
            error(r#"{"providers": [{"domain": "issuer.example", "applicationID": "a"}]}"#)
                .contains("must be an http(s) URL")
        );
        assert!(error(r#"{"providers": [{"type": "customJwt", "issuer": "x", "jwks": "https://x", "algorithm": "HS256"}]}"#).contains("expected {\"providers\""));
        assert!(error(r#"{"provider": []}"#).contains("unknown field"));
    }
}
