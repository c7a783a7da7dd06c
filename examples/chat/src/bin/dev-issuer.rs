//! `dev-issuer`: a tiny local token issuer for trying sign-in with the chat
//! example, standing in for Clerk, Auth0 or your own identity service. It
//! makes a fresh P-256 key when it starts, publishes it as a JWKS, and signs
//! an ES256 token for whatever name it is asked for: **anyone can sign in as
//! anyone**, so it is for local development only.
//!
//! ```sh
//! dev-issuer --listen 127.0.0.1:3213 --write-config auth.config.json
//! chat serve --auth-config auth.config.json
//! ```
//!
//! * `GET /.well-known/jwks.json`: the public key;
//! * `GET /token?subject=ada&name=Ada`: `{"token": "<jwt>"}` valid for an
//!   hour (CORS open, so the page can ask for it).
//!
//! `--write-config PATH` writes the matching `{"providers": [...]}` file
//! for `serve --auth-config`. To use a real provider instead, replace that
//! file (see the book's Authentication chapter); nothing else changes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use clap::Parser;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde::Deserialize;
use serde_json::{Value as Json_, json};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "dev-issuer",
    about = "A local JWT issuer for trying sign-in (development only)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3213")]
    listen: SocketAddr,
    /// The audience (`aud`) of the tokens: the provider's applicationID.
    #[arg(long, default_value = "convex-rs-chat")]
    audience: String,
    /// Write the matching auth config (for `serve --auth-config`) here.
    #[arg(long, value_name = "PATH")]
    write_config: Option<PathBuf>,
}

struct Issuer {
    url: String,
    audience: String,
    key: EncodingKey,
    jwks: Json_,
}

#[derive(Deserialize)]
struct TokenRequest {
    subject: Option<String>,
    name: Option<String>,
}

const KID: &str = "dev-issuer-1";

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    Query(request): Query<TokenRequest>,
) -> Result<Json<Json_>, (axum::http::StatusCode, String)> {
    let name = request.name.unwrap_or_default().trim().to_string();
    let subject = request
        .subject
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| name.to_lowercase().replace(char::is_whitespace, "-"));
    if subject.is_empty() {
        return Err((
            axum::http::StatusCode::BAD_REQUEST,
            "give a subject or a name: /token?name=Ada".into(),
        ));
    }
    let now = now_secs();
    let claims = json!({
        "iss": issuer.url, "sub": subject, "aud": issuer.audience,
        "iat": now, "exp": now + 3600, "jti": format!("{now}-{}", rand_suffix()),
        "name": if name.is_empty() { subject.clone() } else { name },
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KID.into());
    let token = jsonwebtoken::encode(&header, &claims, &issuer.key)
        .map_err(|e| (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({ "token": token })))
}

fn rand_suffix() -> u64 {
    use rand::RngExt;
    rand::rng().random()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let der = secret.to_pkcs8_der().context("encoding the key")?;
    let point = secret.public_key().to_encoded_point(false);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let (x, y) = (point.x().context("no x")?, point.y().context("no y")?);
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": KID,
        "x": b64(x), "y": b64(y),
    }]});
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    if let Some(path) = &args.write_config {
        let config = json!({ "providers": [{
            "type": "customJwt", "issuer": url, "jwks": format!("{url}/.well-known/jwks.json"),
            "algorithm": "ES256", "applicationID": args.audience,
        }]});
        std::fs::write(path, serde_json::to_string_pretty(&config)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let issuer = Arc::new(Issuer {
        url: url.clone(),
        audience: args.audience,
        key: EncodingKey::from_ec_der(der.as_bytes()),
        jwks,
    });
    let app = Router::new()
        .route(
            "/.well-known/jwks.json",
            get(|State(issuer): State<Arc<Issuer>>| async move { Json(issuer.jwks.clone()) }),
        )
        .route("/token", get(token))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(issuer);
    println!("dev issuer listening on {url} (development only: it signs a token for any name)");
    axum::serve(listener, app).await?;
    Ok(())
}
