use convex_rs::prelude::*;

pub struct Service;

impl Service {
    #[query]
    pub async fn list(&self, ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

fn main() {}
