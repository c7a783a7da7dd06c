use convex_rs::prelude::*;

#[query]
pub struct Listing {
    pub items: Vec<String>,
}

fn main() {
    let _ = Listing { items: Vec::new() };
}
