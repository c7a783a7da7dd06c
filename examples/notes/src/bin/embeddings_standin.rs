//! `embeddings-standin`: an OpenAI-compatible `POST /embeddings` endpoint on
//! loopback serving the deterministic stand-in embedding of
//! [`notes::embeddings::standin`], for tests and demos of `notes:addText`.
//!
//! ```sh
//! cargo run -p notes --bin embeddings-standin -- --listen 127.0.0.1:7000
//! EMBEDDINGS_URL=http://127.0.0.1:7000 cargo run -p notes -- serve
//! ```

use std::net::SocketAddr;

use axum::Json;
use axum::routing::post;
use clap::Parser;
use serde::Deserialize;
use serde_json::{Value, json};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "embeddings-standin",
    about = "A stand-in embeddings endpoint (POST /embeddings)"
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
}

/// `input` is one text or a list of texts, as in OpenAI's API.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    model: String,
    input: Input,
}

async fn embeddings(Json(request): Json<Request>) -> Json<Value> {
    let texts = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            json!({ "object": "embedding", "index": index, "embedding": notes::embeddings::standin(text) })
        })
        .collect();
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    Json(json!({
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().route("/embeddings", post(embeddings));
    println!("embeddings stand-in listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
