use convex_rs::prelude::*;

#[query]
pub async fn first<T>(ctx: &QueryCtx, items: Vec<T>) -> Result<Option<T>, FunctionError> {
    let _ = ctx;
    Ok(items.into_iter().next())
}

#[query]
pub async fn bounded(ctx: &QueryCtx, items: Vec<u8>) -> Result<usize, FunctionError>
where
    Vec<u8>: Clone,
{
    let _ = ctx;
    Ok(items.len())
}

fn main() {}
