//! The Rust code blocks of the convex-rs book (`book/src`), as doc tests.
//!
//! `build.rs` copies every chapter into `OUT_DIR`, checking each mdBook
//! `{{#include}}` directive (the file exists, the anchor is defined) and
//! dropping the ```` ```rust ```` blocks that only include files: those files
//! are compiled and tested with the crates they belong to (`examples/chat`,
//! `tests`). Each module below is one chapter, whose documentation is the
//! chapter's text, so `cargo test -p book-doctests --doc` compiles and runs
//! every other Rust block in the book. Lines starting with `# ` are hidden by
//! mdBook and rustdoc alike.
//!
//! There is no code here; a new chapter needs a module below (the build
//! fails until it has one).
#![deny(missing_docs)]

#[doc = include_str!(concat!(env!("OUT_DIR"), "/introduction.md"))]
pub mod introduction {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/getting-started.md"))]
pub mod getting_started {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/index.md"))]
pub mod tutorial {
    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/setup.md"))]
    pub mod setup {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/schema.md"))]
    pub mod schema {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/queries.md"))]
    pub mod queries {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/mutations.md"))]
    pub mod mutations {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/actions.md"))]
    pub mod actions {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/serving.md"))]
    pub mod serving {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/codegen.md"))]
    pub mod codegen {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/react.md"))]
    pub mod react {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/pagination.md"))]
    pub mod pagination {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/search.md"))]
    pub mod search {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/vector-search.md"))]
    pub mod vector_search {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/scheduling.md"))]
    pub mod scheduling {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/auth.md"))]
    pub mod auth {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/file-storage.md"))]
    pub mod file_storage {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/http-actions.md"))]
    pub mod http_actions {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/postgres.md"))]
    pub mod postgres {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/testing.md"))]
    pub mod testing {}

    #[doc = include_str!(concat!(env!("OUT_DIR"), "/tutorial/dev-loop.md"))]
    pub mod dev_loop {}
}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/concepts.md"))]
pub mod concepts {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/reference.md"))]
pub mod reference {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/operating.md"))]
pub mod operating {}

#[doc = include_str!(concat!(env!("OUT_DIR"), "/performance.md"))]
pub mod performance {}
