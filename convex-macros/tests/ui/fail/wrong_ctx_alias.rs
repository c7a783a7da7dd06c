use convex_rs::prelude::*;

/// An alias hides the context's name from the macro: rustc catches it.
type Ctx = MutationCtx;

#[query]
pub async fn list(ctx: &Ctx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

#[query]
pub async fn not_a_context(name: &str) -> Result<Vec<String>, FunctionError> {
    Ok(vec![name.to_owned()])
}

fn main() {}
