use convex_rs::prelude::*;

#[mutation]
pub async fn add(ctx: &MutationCtx, (a, b): (u8, u8)) -> Result<u8, FunctionError> {
    let _ = ctx;
    Ok(a + b)
}

#[mutation]
pub async fn ignore(ctx: &MutationCtx, _: String) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

fn main() {}
