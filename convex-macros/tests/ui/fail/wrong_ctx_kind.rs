use convex_rs::prelude::*;

#[query]
pub async fn list(ctx: &MutationCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

#[internal_action]
pub async fn run(ctx: &convex_rs::function::QueryCtx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
