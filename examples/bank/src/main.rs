//! The bank example's binary.

fn main() -> anyhow::Result<()> {
    convex_rs_example_main(bank::app()?)
}

fn convex_rs_example_main(app: convex_rs::prelude::App) -> anyhow::Result<()> {
    let _ = app;
    Ok(())
}
