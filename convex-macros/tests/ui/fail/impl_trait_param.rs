use convex_rs::prelude::*;

#[mutation]
pub async fn send(ctx: &MutationCtx, body: impl Into<String>) -> Result<(), FunctionError> {
    let _ = (ctx, body.into());
    Ok(())
}

#[mutation]
pub async fn borrow(ctx: &MutationCtx, body: &str) -> Result<(), FunctionError> {
    let _ = (ctx, body);
    Ok(())
}

fn main() {}
