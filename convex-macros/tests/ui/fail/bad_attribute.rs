use convex_rs::prelude::*;

#[query(rename = "listAll")]
pub async fn list(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

#[query(name = list_all)]
pub async fn list_all(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

#[query(name = "list-everything")]
pub async fn list_everything(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

#[query("listMore")]
pub async fn list_more(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

fn main() {
    let _ = (list, list_all, list_everything, list_more);
}
