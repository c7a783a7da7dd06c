//! Procedural macros for [`convex_rs`](https://docs.rs/convex-rs): declare
//! queries, mutations and actions as plain `async fn`s.
//!
//! Use them through `convex_rs` (its prelude re-exports them); the generated
//! code refers to `::convex_rs` by absolute path.
//!
//! ```
//! use convex_rs::prelude::*;
//!
//! /// Sends a message.
//! #[mutation]
//! pub async fn send(ctx: &MutationCtx, body: String, author: String) -> Result<(), FunctionError> {
//!     # let _ = (ctx, body, author);
//!     // ...
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! Next to the function, each macro generates:
//!
//! - a zero-sized marker type with the function's name (braced, so it lives
//!   only in the type namespace), which implements
//!   `convex_rs::function::FunctionInfo` and names the function in typed calls;
//! - a `<PascalName>Args` struct (`SendArgs` above) with one public field per
//!   argument after the context, deserialized from a camelCase JSON object
//!   that may not carry unknown fields;
//! - a registration entry that makes the function known to the runtime,
//!   exported under the camelCase of its name (`send`), or under the name given
//!   with `#[mutation(name = "sendMessage")]`.
//!
//! The function must be an `async fn`, not generic, whose first parameter is
//! the context by shared reference (`&QueryCtx`, `&MutationCtx` or
//! `&ActionCtx`, matching the macro) and whose other parameters are plain
//! identifiers with owned types implementing `Serialize`, `DeserializeOwned`
//! and `JsonSchema`. It returns `Result<T, E>`, where `T` is the function's
//! output. Mistakes are reported on the offending tokens.

mod case;
mod expand;
mod http;
mod model;
mod parse;

use proc_macro::TokenStream;

use crate::model::{Flavor, Kind, Visibility};

/// Expands one of the function macros.
fn run(kind: Kind, visibility: Visibility, attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Flavor { kind, visibility }, attr.into(), &item.into()).into()
}

/// Declares a public query: a read-only function whose result clients can
/// subscribe to.
///
/// The first parameter is `&QueryCtx`; the others are the query's arguments.
/// `#[query(name = "exportName")]` exports it under another name than the
/// camelCase of the function's name.
///
/// ```
/// # use convex_rs::prelude::*;
/// /// Finds the name of the user owning a token.
/// #[query]
/// pub async fn by_token(ctx: &QueryCtx, token_identifier: String) -> Result<Option<String>, FunctionError> {
///     # let _ = (ctx, token_identifier);
///     // ...
///     # Ok(None)
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn query(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Query, Visibility::Public, attr, item)
}

/// Declares a public mutation: a transactional function that reads and writes
/// the database.
///
/// The first parameter is `&MutationCtx`; the others are the mutation's
/// arguments. `#[mutation(name = "exportName")]` exports it under another name
/// than the camelCase of the function's name.
///
/// ```
/// # use convex_rs::prelude::*;
/// /// Sends a message, exported as `sendMessage`.
/// #[mutation(name = "sendMessage")]
/// pub async fn send(ctx: &MutationCtx, body: String, channel: String) -> Result<u64, FunctionError> {
///     # let _ = (ctx, body, channel);
///     // ...
///     # Ok(0)
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn mutation(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Mutation, Visibility::Public, attr, item)
}

/// Declares a public action: a function that may have side effects, such as
/// calling other services, and reaches the database through queries and
/// mutations.
///
/// The first parameter is `&ActionCtx`; the others are the action's
/// arguments. `#[action(name = "exportName")]` exports it under another name
/// than the camelCase of the function's name.
#[proc_macro_attribute]
pub fn action(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Action, Visibility::Public, attr, item)
}

/// Declares an internal query: like [`macro@query`], but callable only by
/// other functions of the deployment, not by clients.
#[proc_macro_attribute]
pub fn internal_query(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Query, Visibility::Internal, attr, item)
}

/// Declares an internal mutation: like [`macro@mutation`], but callable only
/// by other functions of the deployment, not by clients.
#[proc_macro_attribute]
pub fn internal_mutation(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Mutation, Visibility::Internal, attr, item)
}

/// Declares an internal action: like [`macro@action`], but callable only by
/// other functions of the deployment, not by clients.
#[proc_macro_attribute]
pub fn internal_action(attr: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Action, Visibility::Internal, attr, item)
}

/// Declares an HTTP action: an `async fn(ctx: &ActionCtx, request:
/// HttpRequest) -> Result<HttpResponse, E>` (any `E` convertible into a
/// `FunctionError`) served on the site origin by an `HttpRouter` route.
///
/// The function becomes a constant of type `convex_rs::http::HttpAction`
/// with its name, which is what `HttpRouter::route` takes.
///
/// ```
/// use convex_rs::http::{Body, HttpRequest, HttpResponse};
/// use convex_rs::prelude::*;
///
/// /// Echoes the request body.
/// #[http_action]
/// pub async fn echo(_ctx: &ActionCtx, request: HttpRequest) -> Result<HttpResponse, FunctionError> {
///     let body = request.into_body().bytes().await?;
///     Ok(HttpResponse::new(Body::from(body)))
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn http_action(attr: TokenStream, item: TokenStream) -> TokenStream {
    http::expand(attr.into(), item.into()).into()
}
