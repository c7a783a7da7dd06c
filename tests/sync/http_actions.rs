//! HTTP actions on the site origin: routing (exact, prefix, 404), the
//! request reaching the handler, errors as 500 with a JSON body, the size
//! limits (413), the caller's identity, and calls into functions.

use convex_rs::app::{Backend, BackendConfig};
use convex_rs::http::{Body, HttpRequest, HttpResponse, HttpRouter, MAX_HTTP_BODY_BYTES, Method};
use convex_rs::prelude::*;
use convex_rs::server::{Server, ServerConfig};

use crate::common::streamed;
use serde_json::{Value as Json, json};

/// The functions and HTTP actions these tests use.
pub mod site {
    use convex_rs::http::{Body, HttpRequest, HttpResponse, StatusCode, header};
    use convex_rs::prelude::*;
    use serde_json::json;

    /// Counts calls (a mutation the HTTP actions run).
    #[mutation]
    pub async fn bump(ctx: &MutationCtx, by: f64) -> Result<f64, FunctionError> {
        let _ = ctx;
        Ok(by + 1.0)
    }

    /// Answers the method, path, query, a header and the body.
    #[http_action]
    pub async fn echo(
        _ctx: &ActionCtx,
        request: HttpRequest,
    ) -> Result<HttpResponse, FunctionError> {
        let (parts, body) = request.into_parts();
        let body = body.text().await?;
        let reply = json!({
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "query": parts.uri.query(),
            "header": parts.headers.get("x-test").and_then(|v| v.to_str().ok()),
            "body": body,
        });
        let mut response = HttpResponse::new(Body::json(&reply));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        Ok(response)
    }

    /// Counts the bytes of the body as they stream in.
    #[http_action]
    pub async fn count_bytes(
        _ctx: &ActionCtx,
        request: HttpRequest,
    ) -> Result<HttpResponse, FunctionError> {
        use futures::StreamExt;
        let mut chunks = request.into_body().into_stream();
        let mut total = 0usize;
        while let Some(chunk) = chunks.next().await {
            total += chunk?.len();
        }
        Ok(HttpResponse::new(Body::from(total.to_string())))
    }

    /// Fails.
    #[http_action]
    pub async fn fail(
        _ctx: &ActionCtx,
        _request: HttpRequest,
    ) -> Result<HttpResponse, FunctionError> {
        Err(FunctionError::message("the handler gave up"))
    }

    /// Answers more than the response limit.
    #[http_action]
    pub async fn huge(
        _ctx: &ActionCtx,
        _request: HttpRequest,
    ) -> Result<HttpResponse, FunctionError> {
        Ok(HttpResponse::new(Body::from(vec![0u8; (20 << 20) + 1])))
    }

    /// Runs a mutation and answers with its result and the caller.
    #[http_action]
    pub async fn call(
        ctx: &ActionCtx,
        _request: HttpRequest,
    ) -> Result<HttpResponse, FunctionError> {
        let value = ctx.run_mutation::<bump>(BumpArgs { by: 41.0 }).await?;
        let signed_in = !matches!(ctx.auth(), Identity::Unauthenticated);
        let mut response = HttpResponse::new(Body::json(&json!({
            "value": value,
            "signedIn": signed_in,
        })));
        *response.status_mut() = StatusCode::CREATED;
        Ok(response)
    }
}

fn router() -> HttpRouter {
    HttpRouter::new()
        .route(Method::POST, "/echo", site::echo)
        .route(Method::GET, "/echo", site::echo)
        .route_prefix(Method::GET, "/files/", site::echo)
        .route(Method::POST, "/count", site::count_bytes)
        .route(Method::GET, "/fail", site::fail)
        .route(Method::GET, "/huge", site::huge)
        .route(Method::POST, "/call", site::call)
}

struct Site {
    server: Server,
    base: String,
    _dir: tempfile::TempDir,
}

async fn start() -> anyhow::Result<Site> {
    let dir = tempfile::tempdir()?;
    let app = App::builder()
        .functions_from(module_path!())
        .http(router())
        .build()?;
    let backend = Backend::open(app, BackendConfig::in_dir(dir.path())).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut server = Server::start(backend, listener, ServerConfig::default()).await?;
    let site = server.serve_site(tokio::net::TcpListener::bind("127.0.0.1:0").await?)?;
    assert_eq!(server.site_addr(), Some(site));
    Ok(Site {
        server,
        base: format!("http://{site}"),
        _dir: dir,
    })
}

async fn json_of(response: reqwest::Response) -> anyhow::Result<(u16, Json)> {
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_their_routes() -> anyhow::Result<()> {
    let site = start().await?;
    let client = reqwest::Client::new();
    let (status, echo) = json_of(
        client
            .post(format!("{}/echo?x=1", site.base))
            .header("x-test", "yes")
            .body("hello")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(
        echo,
        json!({ "method": "POST", "path": "/echo", "query": "x=1", "header": "yes", "body": "hello" })
    );
    let (_, prefixed) = json_of(
        client
            .get(format!("{}/files/a/b.txt", site.base))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(prefixed["path"], "/files/a/b.txt");
    // Doubled slashes (a site URL with a trailing slash) are collapsed.
    let (status, _) = json_of(client.get(format!("{}//echo", site.base)).send().await?).await?;
    assert_eq!(status, 200);
    // HEAD is served by the GET route.
    let head = client.head(format!("{}/echo", site.base)).send().await?;
    assert_eq!(head.status().as_u16(), 200);

    for (method, path) in [("GET", "/nothing"), ("DELETE", "/echo"), ("GET", "/files")] {
        let request = client.request(method.parse()?, format!("{}{path}", site.base));
        let (status, body) = json_of(request.send().await?).await?;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(body["code"], "NoMatchingRoute");
    }
    site.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_500_with_a_json_body() -> anyhow::Result<()> {
    let site = start().await?;
    let (status, body) = json_of(reqwest::get(format!("{}/fail", site.base)).await?).await?;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "HttpActionFailed");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the handler gave up")),
        "{body}"
    );
    let (status, body) = json_of(reqwest::get(format!("{}/huge", site.base)).await?).await?;
    assert_eq!(
        (status, body["code"].clone()),
        (500, json!("ResponseTooLarge"))
    );
    site.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_over_the_limit_are_413() -> anyhow::Result<()> {
    let site = start().await?;
    let client = reqwest::Client::new();
    // Declared: refused from the headers, before the body is read (a raw
    // request, since an HTTP client would still be sending the body).
    let mut socket =
        tokio::net::TcpStream::connect(site.server.site_addr().expect("the site is served"))
            .await?;
    let head = format!(
        "POST /count HTTP/1.1\r\nhost: site\r\ncontent-length: {}\r\n\r\nfirst bytes",
        MAX_HTTP_BODY_BYTES + 1
    );
    tokio::io::AsyncWriteExt::write_all(&mut socket, head.as_bytes()).await?;
    let mut reply = vec![0u8; 4096];
    let read = tokio::io::AsyncReadExt::read(&mut socket, &mut reply).await?;
    let reply = String::from_utf8_lossy(&reply[..read]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("PayloadTooLarge"), "{reply}");
    // Streamed without a length: cut off as it passes the limit.
    let chunk = vec![0u8; 1 << 20];
    let chunks =
        futures::stream::iter((0..21).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let response = client
        .post(format!("{}/count", site.base))
        .body(streamed(chunks))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 413);
    // At the limit: counted whole.
    let response = client
        .post(format!("{}/count", site.base))
        .body(vec![0u8; MAX_HTTP_BODY_BYTES])
        .send()
        .await?;
    assert_eq!(response.text().await?, MAX_HTTP_BODY_BYTES.to_string());
    site.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_call_functions_and_set_the_status() -> anyhow::Result<()> {
    let site = start().await?;
    let response = reqwest::Client::new()
        .post(format!("{}/call", site.base))
        .send()
        .await?;
    let (status, body) = json_of(response).await?;
    assert_eq!(
        (status, body),
        (201, json!({ "value": 42.0, "signedIn": false }))
    );
    // A token that does not verify is refused before the handler runs.
    let response = reqwest::Client::new()
        .post(format!("{}/call", site.base))
        .bearer_auth("not-a-jwt")
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    site.server.shutdown().await;
    Ok(())
}

#[test]
fn malformed_and_duplicate_routes_fail_the_build() {
    let twice = HttpRouter::new()
        .route(Method::GET, "/a", site::echo)
        .route(Method::GET, "/a", site::fail);
    let error = App::builder().http(twice).build().map(|_| ()).unwrap_err();
    assert_eq!(error.to_string(), "HTTP route GET /a is defined twice");
    let relative = HttpRouter::new().route(Method::GET, "a", site::echo);
    let error = App::builder()
        .http(relative)
        .build()
        .map(|_| ())
        .unwrap_err();
    assert!(error.to_string().contains("must start with '/'"), "{error}");
}

/// `Body` conversions used by handlers.
#[tokio::test]
async fn bodies_read_as_bytes_text_and_json() -> anyhow::Result<()> {
    assert_eq!(Body::from("abc").bytes().await?.as_ref(), b"abc");
    assert_eq!(Body::from(String::from("é")).text().await?, "é");
    let parsed: Json = Body::json(&json!({ "a": 1 })).json_as().await?;
    assert_eq!(parsed, json!({ "a": 1 }));
    assert!(Body::from(vec![0xff]).text().await.is_err());
    let _: HttpRequest = http::Request::new(Body::empty());
    let _: HttpResponse = http::Response::new(Body::empty());
    Ok(())
}
