//! Authentication: every check of a user token against keys generated here
//! (RSA and EC) and served by a JWKS / OIDC discovery server on loopback;
//! key rotation; a key server that is down; then the same tokens through the
//! official Rust client's `set_auth` and `Authorization: Bearer` over HTTP.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use convex_rs::auth::{AuthConfig, Authenticator, JwtAlgorithm};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value as Json, json};

use crate::common::Raw;

const APP: &str = "convex-rs-tests";
const ADMIN_KEY: &str = "test-admin-key-0123456789";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key and its public JWK.
struct Key {
    encoding: EncodingKey,
    algorithm: Algorithm,
    jwk: Json,
}

fn rsa_key(kid: &str) -> Key {
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key");
    let der = private.to_pkcs1_der().expect("PKCS#1 DER");
    Key {
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        algorithm: Algorithm::RS256,
        jwk: json!({
            "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": b64(&private.n().to_bytes_be()), "e": b64(&private.e().to_bytes_be()),
        }),
    }
}

fn ec_key(kid: &str) -> Key {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;
    let secret = p256::SecretKey::random(&mut rsa::rand_core::OsRng);
    let der = secret.to_pkcs8_der().expect("PKCS#8 DER");
    let point = secret.public_key().to_encoded_point(false);
    Key {
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
        algorithm: Algorithm::ES256,
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
        }),
    }
}

/// Keys made once for the whole test binary (RSA generation takes a while).
struct Keys {
    rsa: Key,
    rsa_rotated: Key,
    ec: Key,
    stranger: Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: rsa_key("rsa-1"),
        rsa_rotated: rsa_key("rsa-2"),
        ec: ec_key("ec-1"),
        stranger: rsa_key("rsa-1"),
    })
}

fn now() -> u64 {
    (convex_rs::store::wall_clock_millis() / 1000.0) as u64
}

/// A token signed by `key`, naming `kid` (its own unless overridden).
fn token(key: &Key, kid: Option<&str>, claims: Json) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, &claims, &key.encoding).expect("a token")
}

fn claims(issuer: &str) -> Json {
    json!({
        "iss": issuer, "sub": "user-1", "aud": APP, "iat": now(), "exp": now() + 600,
        "name": "Ada Lovelace", "email": "ada@example.com", "email_verified": true, "team": "engines",
    })
}

/// An OIDC issuer on loopback: discovery at `/.well-known/openid-configuration`,
/// keys at `/jwks` (replaceable, to rotate them).
struct Issuer {
    url: String,
    jwks: Arc<Mutex<Json>>,
    fetches: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: &[&Key]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let jwks = Arc::new(Mutex::new(
            json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }),
        ));
        let fetches = Arc::new(Mutex::new(0));
        let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") });
        let router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route("/jwks", {
                let (jwks, fetches) = (jwks.clone(), fetches.clone());
                get(move || async move {
                    *fetches.lock().expect("lock") += 1;
                    axum::Json(jwks.lock().expect("lock").clone())
                })
            });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Issuer {
            url,
            jwks,
            fetches,
            task,
        }
    }

    fn set_keys(&self, keys: &[&Key]) {
        *self.jwks.lock().expect("lock") =
            json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().expect("lock")
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn verify(
    auth: &Authenticator,
    token: &str,
) -> Result<convex_rs::auth::VerifiedToken, String> {
    auth.verify(token, now()).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn valid_tokens_from_each_kind_of_provider_become_identities() {
    let keys = keys();
    let issuer = Issuer::start(&[&keys.rsa, &keys.ec]).await;
    let custom = format!("{}/custom", issuer.url);
    let ec_issuer = format!("{}/ec", issuer.url);
    let config = AuthConfig::new()
        .oidc(&issuer.url, APP)
        .custom_jwt(
            &custom,
            format!("{}/jwks", issuer.url),
            JwtAlgorithm::RS256,
            None,
        )
        .custom_jwt(
            &ec_issuer,
            format!("{}/jwks", issuer.url),
            JwtAlgorithm::ES256,
            Some(APP.into()),
        );
    let auth = Authenticator::new(&config);

    // OIDC: keys through discovery, aud checked.
    let verified = verify(&auth, &token(&keys.rsa, Some("rsa-1"), claims(&issuer.url)))
        .await
        .expect("valid");
    let identity = verified.identity;
    assert_eq!(identity.token_identifier, format!("{}|user-1", issuer.url));
    assert_eq!(
        (identity.subject.as_str(), identity.issuer.as_str()),
        ("user-1", issuer.url.as_str())
    );
    assert_eq!(identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(identity.email_verified, Some(true));
    assert_eq!(
        identity.claims.get("team"),
        Some(&convex_rs::value::Value::from("engines"))
    );
    let exp = verified.expires_at.expect("exp");
    assert!((now() + 598..=now() + 600).contains(&exp), "exp {exp}");

    // Custom JWT with RS256 and no applicationID: any aud (or none) is fine.
    let mut no_aud = claims(&custom);
    no_aud.as_object_mut().expect("object").remove("aud");
    verify(&auth, &token(&keys.rsa, Some("rsa-1"), no_aud))
        .await
        .expect("valid without aud");
    // Custom JWT with ES256; a trailing slash on iss is the same issuer.
    let slash = claims(&format!("{ec_issuer}/"));
    verify(&auth, &token(&keys.ec, Some("ec-1"), slash))
        .await
        .expect("valid ES256");

    // A data: URI key set.
    let data = format!(
        "data:application/json;base64,{}",
        base64::engine::general_purpose::STANDARD
            .encode(json!({ "keys": [keys.ec.jwk] }).to_string())
    );
    let inline = Authenticator::new(&AuthConfig::new().custom_jwt(
        "https://inline.example",
        data,
        JwtAlgorithm::ES256,
        None,
    ));
    // One key in the set: a token without a kid uses it.
    verify(
        &inline,
        &token(&keys.ec, None, claims("https://inline.example")),
    )
    .await
    .expect("valid data: jwks");
}

#[tokio::test]
async fn every_check_refuses_with_its_own_message() {
    let keys = keys();
    let issuer = Issuer::start(&[&keys.rsa, &keys.ec]).await;
    let custom = format!("{}/custom", issuer.url);
    let config = AuthConfig::new().oidc(&issuer.url, APP).custom_jwt(
        &custom,
        format!("{}/jwks", issuer.url),
        JwtAlgorithm::RS256,
        Some(APP.into()),
    );
    let auth = Authenticator::new(&config);
    let refused = |token: String| {
        let auth = auth.clone();
        async move { verify(&auth, &token).await.expect_err("refused") }
    };
    let with = |changes: Json| {
        let mut c = claims(&issuer.url);
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };

    let signature = refused(token(&keys.stranger, Some("rsa-1"), claims(&issuer.url))).await;
    assert!(
        signature.starts_with("InvalidAuthHeader: Could not verify token signature"),
        "{signature}"
    );
    let no_provider = refused(token(
        &keys.rsa,
        Some("rsa-1"),
        claims("https://elsewhere.example"),
    ))
    .await;
    assert!(
        no_provider.starts_with("NoAuthProvider: No auth provider found matching the given token"),
        "{no_provider}"
    );
    // Found by review: without `aud` (or with one that is not strings) the
    // audience check used to be skipped.
    for aud in [json!(null), json!(5), json!([APP, 1])] {
        let token = token(
            &keys.rsa,
            Some("rsa-1"),
            with(json!({ "aud": aud.clone() })),
        );
        let message = refused(token).await;
        assert!(
            message.contains("aud (audience) does not include"),
            "aud {aud}: {message}"
        );
    }
    let listed = token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "aud": ["other", APP] })),
    );
    verify(&auth, &listed)
        .await
        .expect("a list holding the app");
    // Fractional seconds in exp: still a time (the session's expiry check needs it).
    let fractional = token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "exp": now() as f64 + 600.5 })),
    );
    let exp = verify(&auth, &fractional)
        .await
        .expect("valid")
        .expires_at
        .expect("an exp");
    assert!((now() + 598..=now() + 601).contains(&exp), "exp {exp}");
    let audience = refused(token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "aud": "another-app" })),
    ))
    .await;
    assert!(
        audience.contains("aud (audience) does not include the provider's applicationID"),
        "{audience}"
    );
    let expired = refused(token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "exp": now() - 60, "iat": now() - 120 })),
    ))
    .await;
    assert!(expired.starts_with("TokenExpired:"), "{expired}");
    // Within the leeway, a just-expired token still passes.
    verify(
        &auth,
        &token(&keys.rsa, Some("rsa-1"), with(json!({ "exp": now() - 2 }))),
    )
    .await
    .expect("within the leeway");
    let future = refused(token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "iat": now() + 3600 })),
    ))
    .await;
    assert!(
        future.contains("iat (issued at) is in the future"),
        "{future}"
    );
    let no_exp = refused(token(
        &keys.rsa,
        Some("rsa-1"),
        with(json!({ "exp": null })),
    ))
    .await;
    assert!(no_exp.contains("has no exp claim"), "{no_exp}");
    let no_kid = refused(token(&keys.rsa, None, claims(&issuer.url))).await;
    assert!(
        no_kid.contains("has no kid (key id) in its header, and the provider has 2 keys"),
        "{no_kid}"
    );
    let algorithm = refused(token(&keys.ec, Some("ec-1"), claims(&custom))).await;
    assert!(
        algorithm.contains("signed with ES256, which the provider"),
        "{algorithm}"
    );
    let garbage = verify(&auth, "not.a.jwt").await.expect_err("refused");
    assert!(
        garbage.starts_with("InvalidAuthHeader: Could not parse JWT payload"),
        "{garbage}"
    );
    let unknown_kid = refused(token(&keys.rsa, Some("nobody"), claims(&issuer.url))).await;
    assert!(
        unknown_kid.contains("no key with kid \"nobody\""),
        "{unknown_kid}"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let keys = keys();
    let issuer = Issuer::start(&[&keys.rsa]).await;
    let config = AuthConfig::new().oidc(&issuer.url, APP);
    let auth = Authenticator::with_min_key_refetch(&config, Duration::ZERO);
    verify(&auth, &token(&keys.rsa, Some("rsa-1"), claims(&issuer.url)))
        .await
        .expect("valid");
    verify(&auth, &token(&keys.rsa, Some("rsa-1"), claims(&issuer.url)))
        .await
        .expect("valid again");
    assert_eq!(issuer.fetches(), 1, "keys are cached");

    issuer.set_keys(&[&keys.rsa_rotated]);
    verify(
        &auth,
        &token(&keys.rsa_rotated, Some("rsa-2"), claims(&issuer.url)),
    )
    .await
    .expect("the new key");
    assert_eq!(issuer.fetches(), 2);

    // With the default rate limit, an unknown kid right after a fetch does
    // not fetch again.
    let limited = Authenticator::new(&config);
    verify(
        &limited,
        &token(&keys.rsa_rotated, Some("rsa-2"), claims(&issuer.url)),
    )
    .await
    .expect("valid");
    let before = issuer.fetches();
    verify(
        &limited,
        &token(&keys.rsa, Some("rsa-9"), claims(&issuer.url)),
    )
    .await
    .expect_err("unknown kid");
    assert_eq!(issuer.fetches(), before, "refetched within the rate limit");
}

#[tokio::test]
async fn a_key_server_that_is_down_refuses_tokens_with_a_clear_error() {
    let keys = keys();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("an address").port()
    };
    let url = format!("http://127.0.0.1:{closed}");
    let auth = Authenticator::new(&AuthConfig::new().oidc(&url, APP));
    let started = std::time::Instant::now();
    let error = verify(&auth, &token(&keys.rsa, Some("rsa-1"), claims(&url)))
        .await
        .expect_err("refused");
    assert!(
        error.starts_with("AuthProviderUnavailable: cannot fetch"),
        "{error}"
    );
    assert!(started.elapsed() < convex_rs::auth::KEY_FETCH_TIMEOUT + Duration::from_secs(1));
}

/// An issuer with the RSA key and the chat app trusting it, with its data
/// directory (removed when dropped).
async fn chat_with_issuer() -> anyhow::Result<(Issuer, convex_rs::server::Server, tempfile::TempDir)>
{
    let issuer = Issuer::start(&[&keys().rsa]).await;
    let dir = tempfile::tempdir()?;
    let server = chat_trusting(&issuer, dir.path()).await?;
    Ok((issuer, server, dir))
}

/// The chat app trusting `issuer` (as an OIDC provider), on a free port.
async fn chat_trusting(
    issuer: &Issuer,
    dir: &std::path::Path,
) -> anyhow::Result<convex_rs::server::Server> {
    use convex_rs::app::{Backend, BackendConfig};
    use convex_rs::server::{Server, ServerConfig};
    let app = chat::app()?.with_auth_providers(AuthConfig::new().oidc(&issuer.url, APP));
    let config = BackendConfig {
        admin_key: Some(ADMIN_KEY.into()),
        ..BackendConfig::in_dir(dir)
    };
    let backend = Backend::open(app, config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(Server::start(backend, listener, ServerConfig::default()).await?)
}

fn field(value: &convex::FunctionResult, name: &str) -> Option<String> {
    match value {
        convex::FunctionResult::Value(convex::Value::Object(fields)) => match fields.get(name) {
            Some(convex::Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[tokio::test]
async fn the_official_client_authenticates_and_functions_see_the_identity() -> anyhow::Result<()> {
    let keys = keys();
    let (issuer, server, _dir) = chat_with_issuer().await?;
    let url = crate::common::url(&server);
    let mut client = convex::ConvexClient::new(&url).await?;
    let empty = std::collections::BTreeMap::new();

    // Signed out: no identity; the functions that need one say so.
    let signed_out = client.query("users:identity", empty.clone()).await?;
    assert_eq!(
        signed_out,
        convex::FunctionResult::Value(convex::Value::Null)
    );
    let refused = client.mutation("users:store", empty.clone()).await?;
    let convex::FunctionResult::ConvexError(error) = refused else {
        anyhow::bail!("expected a ConvexError, got {refused:?}")
    };
    assert_eq!(
        error.data,
        convex::Value::Object(
            [("code".to_string(), convex::Value::from("UNAUTHENTICATED"))].into()
        )
    );

    client
        .set_auth(Some(token(&keys.rsa, Some("rsa-1"), claims(&issuer.url))))
        .await;
    let identity = client.query("users:identity", empty.clone()).await?;
    assert_eq!(
        field(&identity, "tokenIdentifier"),
        Some(format!("{}|user-1", issuer.url))
    );
    assert_eq!(field(&identity, "name").as_deref(), Some("Ada Lovelace"));
    assert_eq!(field(&identity, "team").as_deref(), Some("engines"));
    client.mutation("users:store", empty.clone()).await?;
    let me = client.query("users:me", empty.clone()).await?;
    assert_eq!(field(&me, "name").as_deref(), Some("Ada Lovelace"));
    let sent = client
        .mutation(
            "messages:sendAsMe",
            [("body".to_string(), convex::Value::from("hello"))].into(),
        )
        .await?;
    assert!(
        matches!(
            sent,
            convex::FunctionResult::Value(convex::Value::String(_))
        ),
        "{sent:?}"
    );

    // Signing out.
    client.set_auth(None).await;
    assert_eq!(
        client.query("users:me", empty).await?,
        convex::FunctionResult::Value(convex::Value::Null)
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn http_requests_authenticate_with_a_bearer_token() -> anyhow::Result<()> {
    let keys = keys();
    let (issuer, server, _dir) = chat_with_issuer().await?;
    let url = crate::common::url(&server);
    let http = reqwest::Client::new();
    let ask = |token: String| {
        http.post(format!("{url}/api/query"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&json!({"path": "users:identity", "args": {}, "format": "json"}))
            .send()
    };
    let ok = ask(token(&keys.rsa, Some("rsa-1"), claims(&issuer.url))).await?;
    assert_eq!(ok.status(), 200);
    let body: Json = ok.json().await?;
    assert_eq!(body["value"]["subject"], "user-1", "{body}");

    let bad = ask(token(&keys.stranger, Some("rsa-1"), claims(&issuer.url))).await?;
    assert_eq!(bad.status(), 401);
    let body: Json = bad.json().await?;
    assert_eq!(body["code"], "InvalidAuthHeader", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Could not verify token signature"),
        "{body}"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_refused_token_and_a_token_that_expires_mid_session_end_the_socket_with_auth_errors()
-> anyhow::Result<()> {
    let keys = keys();
    let (issuer, server, _dir) = chat_with_issuer().await?;

    // Wrongly signed: AuthError answering the Authenticate, then close.
    let mut raw = Raw::connect_session(&server, "a0000000-1111-4222-8333-944455556666").await?;
    let bad = token(&keys.stranger, Some("rsa-1"), claims(&issuer.url));
    raw.send(json!({"type":"Authenticate","tokenType":"User","value":bad,"baseVersion":0}))
        .await?;
    let error = raw.recv().await?;
    assert_eq!(error["type"], "AuthError", "{error}");
    assert_eq!(
        (
            error["authUpdateAttempted"].as_bool(),
            error["baseVersion"].as_u64()
        ),
        (Some(true), Some(0))
    );
    assert_eq!(raw.closed().await?, None);

    // Accepted, then expires (exp 8 s ago, inside the 10 s leeway): the
    // next mutation after the leeway ends gets AuthError without an update attempt.
    let mut raw = Raw::connect_session(&server, "b0000000-1111-4222-8333-944455556666").await?;
    let mut soon = claims(&issuer.url);
    soon["exp"] = json!(now() - 8);
    soon["iat"] = json!(now() - 60);
    raw.send(json!({"type":"Authenticate","tokenType":"User","value":token(&keys.rsa, Some("rsa-1"), soon),"baseVersion":0})).await?;
    let accepted = raw.recv().await?;
    assert_eq!(accepted["type"], "Transition", "{accepted}");
    assert_eq!(accepted["endVersion"]["identity"], 1);
    tokio::time::sleep(Duration::from_secs(4)).await;
    raw.send(json!({"type":"Mutation","requestId":0,"udfPath":"users:store","args":[{}]}))
        .await?;
    let expired = raw.recv().await?;
    assert_eq!(expired["type"], "AuthError", "{expired}");
    assert_eq!(expired["authUpdateAttempted"], false);
    assert!(
        expired["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("TokenExpired"),
        "{expired}"
    );
    assert_eq!(raw.closed().await?, None);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn two_users_subscribed_to_one_query_each_see_their_own_identity() -> anyhow::Result<()> {
    use futures::StreamExt;
    let keys = keys();
    let (issuer, server, _dir) = chat_with_issuer().await?;
    let url = crate::common::url(&server);
    let mut subjects = Vec::new();
    let mut subscriptions = Vec::new();
    for subject in ["ada", "grace"] {
        let mut client = convex::ConvexClient::new(&url).await?;
        let mut c = claims(&issuer.url);
        c["sub"] = json!(subject);
        client
            .set_auth(Some(token(&keys.rsa, Some("rsa-1"), c)))
            .await;
        let sub = client
            .subscribe("users:identity", std::collections::BTreeMap::new())
            .await?;
        subscriptions.push((client, sub));
        subjects.push(subject);
    }
    for ((_, sub), subject) in subscriptions.iter_mut().zip(subjects) {
        let first = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await?
            .expect("a value");
        assert_eq!(field(&first, "subject").as_deref(), Some(subject));
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_admin_key_calls_internal_functions_and_acts_as_a_user() -> anyhow::Result<()> {
    let (_issuer, server, _dir) = chat_with_issuer().await?;
    let url = crate::common::url(&server);
    let http = reqwest::Client::new();
    let post = |endpoint: &str, path: &str, authorization: Option<String>| {
        let mut request = http
            .post(format!("{url}/api/{endpoint}"))
            .json(&json!({"path": path, "args": {}, "format": "json"}));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    // Internal: unknown to clients, callable with the admin key.
    let hidden: Json = post("mutation", "messages:purgeExpired", None)
        .await?
        .json()
        .await?;
    assert_eq!(hidden["status"], "error", "{hidden}");
    let ran: Json = post(
        "mutation",
        "messages:purgeExpired",
        Some(format!("Convex {ADMIN_KEY}")),
    )
    .await?
    .json()
    .await?;
    assert_eq!(ran["status"], "success", "{ran}");
    let wrong = post(
        "mutation",
        "messages:purgeExpired",
        Some("Convex not-the-key".into()),
    )
    .await?;
    assert_eq!(wrong.status(), 401);
    let wrong: Json = wrong.json().await?;
    assert_eq!(wrong["code"], "BadAdminKey", "{wrong}");

    // Acting as a user over HTTP (what ConvexHttpClient.setAdminAuth sends).
    let acting = base64::engine::general_purpose::STANDARD.encode(
        json!({"subject": "imp", "issuer": "https://imp.example", "name": "Imp"}).to_string(),
    );
    let identity: Json = post(
        "query",
        "users:identity",
        Some(format!("Convex {ADMIN_KEY}:{acting}")),
    )
    .await?
    .json()
    .await?;
    assert_eq!(
        identity["value"]["tokenIdentifier"], "https://imp.example|imp",
        "{identity}"
    );
    assert_eq!(identity["value"]["name"], "Imp");

    // And over the websocket, with `impersonating`.
    let mut raw = Raw::connect_session(&server, "c0000000-1111-4222-8333-944455556666").await?;
    raw.send(
        json!({"type":"Authenticate","tokenType":"Admin","value":ADMIN_KEY,"baseVersion":0,
        "impersonating":{"tokenIdentifier":"custom|id","subject":"s","issuer":"i"}}),
    )
    .await?;
    let accepted = raw.recv().await?;
    assert_eq!(accepted["endVersion"]["identity"], 1, "{accepted}");
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"users:identity","args":[{}]}]}),
    )
    .await?;
    let update = raw.recv().await?;
    assert_eq!(
        update["modifications"][0]["value"]["tokenIdentifier"], "custom|id",
        "{update}"
    );
    raw.send(
        json!({"type":"Mutation","requestId":0,"udfPath":"messages:purgeExpired","args":[{}]}),
    )
    .await?;
    let response = raw.recv().await?;
    assert_eq!(response["success"], true, "{response}");
    server.shutdown().await;
    Ok(())
}
