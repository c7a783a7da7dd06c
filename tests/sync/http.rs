//! The HTTP API: bodies, formats, status codes, error shapes, CORS.

use serde_json::{Value as Json, json};

use crate::common::ChatServer;

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn post(&self, path: &str, body: &str) -> anyhow::Result<(u16, Json)> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await?))
    }
}

#[tokio::test]
async fn endpoints_formats_and_errors() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let http = Http {
        base: format!("http://{}", server.local_addr()),
        client: reqwest::Client::new(),
    };

    let (status, body) = http.post("/api/mutation", r#"{"path":"users:create","args":[{"name":"a","tokenIdentifier":"t"}],"format":"convex_encoded_json"}"#).await?;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "success");
    let user = body["value"].as_str().unwrap().to_string();
    // Bare-object args and the default (clean) format.
    let (_, body) = http
        .post(
            "/api/mutation",
            &json!({"path":"messages:send","args":{"body":"x","user":user}}).to_string(),
        )
        .await?;
    assert_eq!(body["status"], "success", "{body}");
    let (_, body) = http
        .post("/api/query", r#"{"path":"messages:count","args":[{}]}"#)
        .await?;
    assert_eq!(body, json!({"status":"success","value":1.0}));
    // Function errors are 200 with status "error".
    let (status, body) = http
        .post("/api/mutation", r#"{"path":"messages:wipe","args":[{}]}"#)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "error");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function")
    );
    let (_, body) = http
        .post(
            "/api/mutation",
            &json!({"path":"messages:send","args":[{"body":"","user":user}]}).to_string(),
        )
        .await?;
    assert_eq!(body["errorData"], json!({"code":"EMPTY_BODY"}));
    // Malformed requests are 4xx with {code, message}.
    let (status, body) = http.post("/api/query", "{nope").await?;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "BadJsonBody");
    assert!(body["message"].is_string());
    let (status, body) = http
        .post(
            "/api/query",
            r#"{"path":"messages:count","args":[{}],"format":"xml"}"#,
        )
        .await?;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadFormat")));
    // /api/run defaults to clean JSON and runs any kind of function.
    let (_, body) = http
        .post("/api/run/messages/count", r#"{"args":{}}"#)
        .await?;
    assert_eq!(body["value"], json!(1.0));
    // Timestamps.
    let (_, body) = http.post("/api/query_ts", "").await?;
    let ts = body["ts"].as_str().unwrap().to_string();
    http.post(
        "/api/mutation",
        &json!({"path":"messages:send","args":[{"body":"y","user":user}]}).to_string(),
    )
    .await?;
    let (_, body) = http
        .post(
            "/api/query_at_ts",
            &json!({"path":"messages:count","args":[{}],"ts":ts}).to_string(),
        )
        .await?;
    assert_eq!(
        body["value"],
        json!(1.0),
        "the query ran at the older timestamp"
    );
    let (_, body) = http
        .post(
            "/api/query_batch",
            r#"{"queries":[{"path":"messages:count","args":[{}]},{"path":"nope:x","args":[{}]}]}"#,
        )
        .await?;
    assert_eq!(body["results"][0]["value"], json!(2.0));
    assert_eq!(body["results"][1]["status"], "error");
    // GET /api/query and doubled slashes.
    let r: Json = http
        .client
        .get(format!(
            "{}//api/query?path=messages:count&args=%7B%7D",
            http.base
        ))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(r["value"], json!(2.0));
    // Unverifiable auth is refused, not ignored.
    let r = http
        .client
        .post(format!("{}/api/query", http.base))
        .header("authorization", "Basic abc")
        .body(r#"{"path":"messages:count","args":[{}]}"#)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 401);
    // Health endpoints.
    let version = http
        .client
        .get(format!("{}/instance_version", http.base))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(version, convex_rs::server::VERSION);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn cors_mirrors_the_origin() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let r = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{}/api/query", server.local_addr()),
        )
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,convex-client",
        )
        .send()
        .await?;
    assert!(r.status().is_success());
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-headers"]
            .to_str()?
            .contains("convex-client")
    );
    server.shutdown().await;
    Ok(())
}
