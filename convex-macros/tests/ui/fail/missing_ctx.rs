use convex_rs::prelude::*;

#[query]
pub async fn no_parameters() -> Result<u32, FunctionError> {
    Ok(1)
}

#[mutation]
pub async fn forgot_context(body: String) -> Result<(), FunctionError> {
    let _ = body;
    Ok(())
}

#[action]
pub async fn by_value(ctx: ActionCtx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

#[mutation]
pub async fn mutable(ctx: &mut MutationCtx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
