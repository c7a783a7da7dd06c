use convex_rs::prelude::*;

#[query]
pub async fn count(ctx: &QueryCtx) -> u32 {
    let _ = ctx;
    0
}

fn main() {}
