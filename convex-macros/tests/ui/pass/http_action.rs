//! An HTTP action routes and runs: the constant the macro defines in place
//! of the function is what `HttpRouter::route` takes.

use convex_rs::http::{Body, HttpRequest, HttpResponse, HttpRouter, Method};
use convex_rs::prelude::*;

/// Echoes the body.
#[http_action]
pub async fn echo(_ctx: &ActionCtx, request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    let body = request.into_body().bytes().await?;
    Ok(HttpResponse::new(Body::from(body)))
}

mod private {
    use super::*;

    #[http_action]
    async fn hidden(_ctx: &ActionCtx, _request: HttpRequest) -> Result<HttpResponse, FunctionError> {
        Ok(HttpResponse::new(Body::empty()))
    }

    pub fn router() -> HttpRouter {
        HttpRouter::new().route(Method::GET, "/hidden", hidden)
    }
}

fn main() {
    let router = private::router().route(Method::POST, "/echo", echo);
    assert_eq!(echo.name(), "echo");
    assert!(router.lookup(&Method::POST, "/echo").is_some());
    assert!(router.lookup(&Method::GET, "/hidden").is_some());
}
