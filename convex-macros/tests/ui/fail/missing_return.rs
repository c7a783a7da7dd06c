use convex_rs::prelude::*;

#[mutation]
pub async fn touch(ctx: &MutationCtx, id: String) {
    let _ = (ctx, id);
}

fn main() {
    let _ = touch;
}
