//! `#[http_action]`: turns `async fn name(ctx: &ActionCtx, request:
//! HttpRequest) -> Result<HttpResponse, E>` into a constant `name` of type
//! `convex_rs::http::HttpAction`, which an `HttpRouter` routes to.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn};

/// Expands `#[http_action]` on `item`; errors are reported on the offending tokens.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    match check(&attr, &function) {
        Ok(()) => generate(function),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#function #error)
        }
    }
}

fn check(attr: &TokenStream, function: &ItemFn) -> syn::Result<()> {
    if !attr.is_empty() {
        return Err(syn::Error::new(
            attr.span(),
            "#[http_action] takes no options; route it with HttpRouter::route",
        ));
    }
    let signature = &function.sig;
    if signature.asyncness.is_none() {
        return Err(syn::Error::new(
            signature.fn_token.span,
            "an HTTP action must be an `async fn`",
        ));
    }
    if !signature.generics.params.is_empty() {
        return Err(syn::Error::new(
            signature.generics.span(),
            "an HTTP action cannot be generic",
        ));
    }
    if signature.inputs.len() != 2
        || signature
            .inputs
            .iter()
            .any(|input| matches!(input, FnArg::Receiver(_)))
    {
        return Err(syn::Error::new(
            signature.inputs.span(),
            "an HTTP action takes two parameters: `ctx: &ActionCtx, request: HttpRequest`",
        ));
    }
    Ok(())
}

fn generate(mut function: ItemFn) -> TokenStream {
    let name = function.sig.ident.clone();
    let inner = format_ident!("__convex_http_action_{}", name);
    let visibility = function.vis.clone();
    let docs: Vec<_> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .cloned()
        .collect();
    function.sig.ident = inner.clone();
    function.vis = syn::Visibility::Inherited;
    function.attrs.retain(|attr| !attr.path().is_ident("doc"));
    let label = name.to_string();
    quote! {
        #(#docs)*
        #[allow(non_upper_case_globals)]
        #visibility const #name: ::convex_rs::http::HttpAction = ::convex_rs::http::HttpAction::new(
            #label,
            |ctx, request| ::std::boxed::Box::pin(async move {
                ::convex_rs::__private::into_http_result(#inner(&ctx, request).await)
            }),
        );
        #[doc(hidden)]
        #function
    }
}
