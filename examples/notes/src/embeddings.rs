//! Embeddings: the client of an OpenAI-compatible `POST /embeddings`
//! endpoint that `notes:addText` calls, and the deterministic stand-in
//! embedding that the `embeddings-standin` binary serves.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::DIMENSIONS;

/// The model asked for when `EMBEDDINGS_MODEL` is not set.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

/// How long a call to the endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why no embedding came back.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// `EMBEDDINGS_URL` is not set.
    #[error(
        "EMBEDDINGS_URL is not set: set it to an OpenAI-compatible API base URL (POST {{EMBEDDINGS_URL}}/embeddings), for example http://127.0.0.1:7000 for `cargo run -p notes --bin embeddings-standin`"
    )]
    NotConfigured,
    /// The request failed (connection, timeout, body).
    #[error("the embeddings endpoint {url} could not be reached: {source}")]
    Request {
        /// The URL called.
        url: String,
        /// What failed.
        source: reqwest::Error,
    },
    /// The endpoint answered with an error status.
    #[error("the embeddings endpoint {url} answered {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The answer had no embedding, or one of another length.
    #[error("the embeddings endpoint {url} answered unexpectedly: {reason}")]
    Answer {
        /// The URL called.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// Where embeddings come from: `EMBEDDINGS_URL` and `EMBEDDINGS_MODEL`.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// The API base URL (`/embeddings` is appended).
    pub url: String,
    /// The model name sent with each request.
    pub model: String,
}

impl Endpoint {
    /// The endpoint named by the environment.
    pub fn from_env() -> Result<Endpoint, EmbeddingError> {
        let url = std::env::var("EMBEDDINGS_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .ok_or(EmbeddingError::NotConfigured)?;
        let model = std::env::var("EMBEDDINGS_MODEL")
            .ok()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        Ok(Endpoint {
            url: url.trim_end_matches('/').to_string(),
            model,
        })
    }

    /// The embedding of `text` (of [`DIMENSIONS`] numbers).
    pub async fn embed(&self, text: &str) -> Result<Vec<f64>, EmbeddingError> {
        let url = format!("{}/embeddings", self.url);
        if !url.starts_with("http://") {
            return Err(EmbeddingError::Answer {
                url,
                reason: "this example's HTTP client speaks plain http only: use an http:// endpoint (a local embedding server, or a proxy in front of an https API)".into(),
            });
        }
        let request_error = |source| EmbeddingError::Request {
            url: url.clone(),
            source,
        };
        let response = reqwest::Client::new()
            .post(&url)
            .timeout(TIMEOUT)
            .json(&Request {
                model: &self.model,
                input: text,
            })
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(EmbeddingError::Status {
                url,
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let answer: Response = response.json().await.map_err(request_error)?;
        let embedding = answer
            .data
            .into_iter()
            .next()
            .map(|d| d.embedding)
            .ok_or_else(|| EmbeddingError::Answer {
                url: url.clone(),
                reason: "no data[0].embedding".into(),
            })?;
        if embedding.len() != DIMENSIONS {
            return Err(EmbeddingError::Answer {
                url,
                reason: format!(
                    "an embedding of {} numbers; the notes index needs {DIMENSIONS} (use a {DIMENSIONS}-dimension model such as {DEFAULT_MODEL})",
                    embedding.len()
                ),
            });
        }
        Ok(embedding)
    }
}

/// An OpenAI-compatible embeddings request.
#[derive(Serialize, Deserialize)]
pub struct Request<'a> {
    /// The model.
    pub model: &'a str,
    /// The text.
    pub input: &'a str,
}

/// An OpenAI-compatible embeddings answer (the parts read here).
#[derive(Serialize, Deserialize)]
pub struct Response {
    /// One item per input.
    pub data: Vec<Embedding>,
}

/// One embedding of an answer.
#[derive(Serialize, Deserialize)]
pub struct Embedding {
    /// The vector.
    pub embedding: Vec<f64>,
}

/// The stand-in embedding of `text`: each word (lower-cased, split on
/// non-alphanumerics) adds ±1 to a dimension picked by hashing it, and its
/// first three letters add ±0.5 to another, so texts sharing words (or word
/// stems) point the same way; then scaled to length 1. Deterministic, not
/// semantic: it stands in for a real model in tests and demos.
pub fn standin(text: &str) -> Vec<f64> {
    let mut vector = vec![0.0; DIMENSIONS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
    {
        add(&mut vector, &word, 1.0);
        let stem: String = word.chars().take(3).collect();
        add(&mut vector, &format!("stem:{stem}"), 0.5);
    }
    let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn add(vector: &mut [f64], feature: &str, weight: f64) {
    // FNV-1a: stable across runs and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in feature.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let dimension = (hash % DIMENSIONS as u64) as usize;
    let sign = if (hash >> 63) == 1 { -1.0 } else { 1.0 };
    vector[dimension] += sign * weight;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_words_make_texts_similar() {
        let cats = standin("Cats sleep all day");
        let kittens = standin("cats nap all day long");
        let rockets = standin("rocket engines burn fuel");
        assert_eq!(cats.len(), DIMENSIONS);
        assert!((cosine(&cats, &cats) - 1.0).abs() < 1e-9);
        assert!(cosine(&cats, &kittens) > cosine(&cats, &rockets) + 0.3);
        assert_eq!(standin("Cats sleep all day"), cats, "deterministic");
        assert!(standin("").iter().all(|x| *x == 0.0));
    }
}
