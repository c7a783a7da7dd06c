use convex_rs::prelude::*;

/// Neither serializable nor described by a schema.
#[derive(Debug, Clone)]
pub struct Opaque {
    pub inner: u32,
}

#[mutation]
pub async fn store(ctx: &MutationCtx, label: String, value: Opaque) -> Result<(), FunctionError> {
    let _ = (ctx, label, value);
    Ok(())
}

fn main() {}
