//! The generated items trigger no warning, even under strict lints, for
//! private, public, documented and unused functions alike.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unused,
    nonstandard_style,
    rust_2018_idioms,
    unused_qualifications,
    trivial_casts
)]

use convex_rs::prelude::*;

mod private {
    use convex_rs::prelude::*;

    // Never called: no dead-code warning for the generated items.
    #[query]
    async fn unused_query(ctx: &QueryCtx, page_size: u32) -> Result<u32, FunctionError> {
        let _ = ctx;
        Ok(page_size)
    }

    #[mutation]
    pub(crate) async fn crate_visible(ctx: &MutationCtx) -> Result<(), FunctionError> {
        let _ = ctx;
        Ok(())
    }

    // The `cfg` applies to every generated item too.
    #[action]
    #[cfg(any())]
    async fn compiled_out(ctx: &ActionCtx, value: NotEvenAType) -> Result<(), FunctionError> {
        let _ = (ctx, value);
        Ok(())
    }
}

/// A public, documented query.
#[query]
pub async fn documented(ctx: &QueryCtx, search_term: String) -> Result<String, FunctionError> {
    let _ = ctx;
    Ok(search_term)
}

/// A deprecated query: using it warns, the generated code does not.
#[deprecated = "use `documented` instead"]
#[mutation]
pub async fn old(ctx: &MutationCtx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

/// An aliased context is accepted when it is the right type.
type Ctx = QueryCtx;

/// Uses an alias for its context.
#[internal_query]
pub async fn through_alias(ctx: &Ctx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

fn main() {
    let _ = private::crate_visible;
}
