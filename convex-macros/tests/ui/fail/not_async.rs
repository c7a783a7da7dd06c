use convex_rs::prelude::*;

#[query]
pub fn list(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

fn main() {
    // The function is still emitted: no follow-up "cannot find" error.
    let _ = list;
}
