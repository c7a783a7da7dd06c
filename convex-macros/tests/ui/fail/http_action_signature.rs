use convex_rs::http::{HttpRequest, HttpResponse};
use convex_rs::prelude::*;

#[http_action]
fn not_async(_ctx: &ActionCtx, _request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    unimplemented!()
}

#[http_action]
async fn one_parameter(_request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    unimplemented!()
}

#[http_action(path = "/x")]
async fn with_options(_ctx: &ActionCtx, _request: HttpRequest) -> Result<HttpResponse, FunctionError> {
    unimplemented!()
}

#[http_action]
async fn wrong_return(_ctx: &ActionCtx, _request: HttpRequest) -> Result<String, FunctionError> {
    unimplemented!()
}

fn main() {}
