//! Code generation: turns a [`Function`] model into the items that register
//! the function with the `convex_rs` runtime.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{ItemFn, LitStr, Type};

use crate::model::{Flavor, Function, Options};
use crate::parse;

/// Runs one of the function macros: parses `attr` and `item`, validates them
/// and expands them.
///
/// On any error the item is emitted unchanged next to the `compile_error!`s,
/// so that code calling the function does not fail too.
pub(crate) fn entry(flavor: Flavor, attr: TokenStream, item: &TokenStream) -> TokenStream {
    let item_fn = match parse::item(flavor, item.clone()) {
        Ok(item_fn) => item_fn,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#item #error);
        }
    };
    let options = parse::options(attr);
    let function = match options {
        Ok(options) => parse::function(flavor, options, &item_fn),
        Err(mut options_error) => {
            // Report the signature's problems too, with default options.
            if let Err(error) = parse::function(flavor, Options::default(), &item_fn) {
                options_error.combine(error);
            }
            Err(options_error)
        }
    };
    match function {
        Ok(function) => expand(&function, &item_fn),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item_fn #error)
        }
    }
}

/// The span of the first and of the last token of `tokens`, so that
/// generated code can cover exactly the range the user wrote.
fn span_range(tokens: &impl ToTokens) -> (Span, Span) {
    let mut first = None;
    let mut last = None;
    for token in tokens.to_token_stream() {
        let (open, close) = match &token {
            TokenTree::Group(group) => (group.span_open(), group.span_close()),
            other => (other.span(), other.span()),
        };
        first.get_or_insert(open);
        last = Some(close);
    }
    let fallback = Span::call_site();
    (first.unwrap_or(fallback), last.unwrap_or(fallback))
}

/// Expands a validated function into the original function followed by the
/// argument type assertions, its marker type, arguments struct,
/// `FunctionInfo` impl, registration and invoker.
pub(crate) fn expand(function: &Function, item: &ItemFn) -> TokenStream {
    let marker = marker(function);
    let args_struct = args_struct(function);
    let checks = checks(function);
    let info = info(function);
    let entry = registration(function);
    let invoker = invoker(function);
    quote! {
        #item
        #checks
        #marker
        #args_struct
        #info
        #entry
        #invoker
    }
}

/// The zero-sized marker type named like the function. It is braced, so it
/// only lives in the type namespace and never shadows the function.
fn marker(function: &Function) -> TokenStream {
    let Function {
        ident,
        vis,
        docs,
        deprecations,
        cfgs,
        ..
    } = function;
    quote! {
        #(#docs)*
        #(#deprecations)*
        #(#cfgs)*
        #[allow(non_camel_case_types, dead_code, missing_docs)]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::default::Default)]
        #vis struct #ident {}
    }
}

/// The struct holding the function's named arguments, deserialized from the
/// client's argument object.
fn args_struct(function: &Function) -> TokenStream {
    let Function {
        vis, cfgs, args, ..
    } = function;
    let args_ident = function.args_ident();
    let doc = format!(" Arguments of [`{}()`].", function.plain_name());
    let fields = args.iter().map(|arg| {
        let (ident, ty) = (&arg.ident, &arg.ty);
        quote!(pub #ident: #ty)
    });
    quote! {
        #[doc = #doc]
        #(#cfgs)*
        #[derive(
            ::convex_rs::__private::serde::Serialize,
            ::convex_rs::__private::serde::Deserialize,
            ::convex_rs::__private::schemars::JsonSchema,
            ::core::fmt::Debug,
            ::core::clone::Clone,
        )]
        #[serde(
            crate = "::convex_rs::__private::serde",
            rename_all = "camelCase",
            deny_unknown_fields
        )]
        #[schemars(crate = "::convex_rs::__private::schemars")]
        #[allow(non_camel_case_types, dead_code, missing_docs)]
        #vis struct #args_ident {
            #(#fields,)*
        }
    }
}

/// Compile-time assertions that every argument type can be serialized,
/// deserialized and described by a JSON schema. Each assertion is spanned on
/// the argument's type, so rustc's error points at it.
fn checks(function: &Function) -> TokenStream {
    if function.args.is_empty() {
        return TokenStream::new();
    }
    let cfgs = &function.cfgs;
    let asserts = function.args.iter().map(|arg| {
        let ty = &arg.ty;
        let (first, last) = span_range(ty);
        let call = quote_spanned!(first=> ::convex_rs::__private::assert_arg::<#ty);
        let close = quote_spanned!(last=> >(););
        quote!(#call #close)
    });
    quote! {
        #(#cfgs)*
        const _: () = {
            #[allow(dead_code)]
            fn __check() {
                #(#asserts)*
            }
        };
    }
}

/// The `FunctionInfo` impl on the marker type.
fn info(function: &Function) -> TokenStream {
    let Function {
        ident,
        cfgs,
        output,
        ..
    } = function;
    let args_ident = function.args_ident();
    let entry_ident = function.entry_ident();
    let output_ty = output_projection(output);
    quote! {
        #(#cfgs)*
        #[allow(deprecated)]
        impl ::convex_rs::function::FunctionInfo for #ident {
            type Args = #args_ident;
            type Output = #output_ty;
            const ENTRY: &'static ::convex_rs::function::FunctionEntry = &#entry_ident;
        }
    }
}

/// `<R as IntoFunctionOutput>::Output`, spanned on the declared return type
/// `R` so that a return type that is not a `Result` is reported there.
fn output_projection(output: &Type) -> TokenStream {
    let (first, last) = span_range(output);
    let open = quote_spanned!(first=> <#output as ::convex_rs::function::IntoFunctionOutput);
    let close = quote_spanned!(last=> >::Output);
    quote!(#open #close)
}

/// The registration static, collected into the runtime's function list.
fn registration(function: &Function) -> TokenStream {
    let Function {
        ident,
        cfgs,
        flavor,
        ..
    } = function;
    let args_ident = function.args_ident();
    let entry_ident = function.entry_ident();
    let invoke_ident = function.invoke_ident();
    let name = LitStr::new(&function.export_name, function.export_name_span);
    let kind = format_ident!("{}", flavor.kind.variant_name());
    let visibility = format_ident!("{}", flavor.visibility.variant_name());
    // Spanned on the return type, like every use of it.
    let (first, last) = span_range(&function.output);
    let returns_schema = {
        let open = quote_spanned!(first=> ::convex_rs::__private::output_schema_for::<
            <#ident as ::convex_rs::function::FunctionInfo>::Output);
        let close = quote_spanned!(last=> >);
        quote!(#open #close)
    };
    quote! {
        #(#cfgs)*
        #[::convex_rs::__private::linkme::distributed_slice(::convex_rs::__private::FUNCTIONS)]
        #[linkme(crate = ::convex_rs::__private::linkme)]
        #[allow(non_upper_case_globals, deprecated)]
        #[doc(hidden)]
        static #entry_ident: ::convex_rs::function::FunctionEntry =
            ::convex_rs::function::FunctionEntry {
                module_path: ::core::module_path!(),
                name: #name,
                kind: ::convex_rs::function::FunctionKind::#kind,
                visibility: ::convex_rs::function::Visibility::#visibility,
                file: ::core::file!(),
                line: ::core::line!(),
                args_schema: ::convex_rs::__private::schema_for::<#args_ident>,
                returns_schema: #returns_schema,
                invoke: ::convex_rs::function::Invoker::#kind(#invoke_ident),
            };
    }
}

/// The type-erased invoker: decodes the arguments, calls the function and
/// encodes its result.
///
/// The context is bound to the type the user wrote before the call, with the
/// binding spanned on that type: a wrong context (even through an alias) is
/// reported once, on the user's parameter.
fn invoker(function: &Function) -> TokenStream {
    let Function {
        ident,
        cfgs,
        flavor,
        ctx_ty,
        args,
        ..
    } = function;
    let args_ident = function.args_ident();
    let invoke_ident = function.invoke_ident();
    let ctx_type = format_ident!("{}", flavor.kind.ctx_name());
    let (first, last) = span_range(ctx_ty);
    let ctx_borrow = {
        let amp = quote_spanned!(first=> &);
        let value = quote_spanned!(last=> __convex_ctx);
        quote!(#amp #value)
    };
    let arg_idents = args.iter().map(|arg| &arg.ident);
    // Spanned on the return type, so that a return type the runtime cannot
    // encode is reported there.
    let encode_output = {
        let output = &function.output;
        let (first, last) = span_range(output);
        let open = quote_spanned!(first=> ::convex_rs::__private::encode_output::<#output);
        let close = quote_spanned!(last=> >);
        quote!(#open #close)
    };
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(deprecated, clippy::type_complexity)]
        fn #invoke_ident(
            __convex_ctx: ::convex_rs::function::#ctx_type,
            __convex_args: ::convex_rs::value::Value,
        ) -> ::convex_rs::__private::BoxFuture<
            'static,
            ::core::result::Result<
                ::convex_rs::value::Value,
                ::convex_rs::function::FunctionError,
            >,
        > {
            ::std::boxed::Box::pin(async move {
                let __convex_args =
                    ::convex_rs::__private::decode_args::<#args_ident>(__convex_args)?;
                let __convex_ctx_ref: #ctx_ty = #ctx_borrow;
                #encode_output(#ident(__convex_ctx_ref #(, __convex_args.#arg_idents)*).await)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::entry;
    use crate::model::{Flavor, Kind, Visibility};

    const QUERY: Flavor = Flavor {
        kind: Kind::Query,
        visibility: Visibility::Public,
    };

    fn expand(attr: TokenStream, item: &TokenStream) -> String {
        entry(QUERY, attr, item).to_string()
    }

    #[test]
    fn expands_a_valid_function() {
        let out = expand(
            quote!(),
            &quote! {
                /// Looks a user up.
                pub async fn by_token(ctx: &QueryCtx, token_identifier: String)
                    -> Result<Option<Doc<User>>, FunctionError> { todo!() }
            },
        );
        assert!(!out.contains("compile_error"), "{out}");
        for expected in [
            "pub async fn by_token",
            "pub struct by_token { }",
            "pub struct ByTokenArgs { pub token_identifier : String , }",
            "impl :: convex_rs :: function :: FunctionInfo for by_token",
            "type Args = ByTokenArgs ;",
            "static __CONVEX_FN_by_token : :: convex_rs :: function :: FunctionEntry",
            "name : \"byToken\"",
            "kind : :: convex_rs :: function :: FunctionKind :: Query",
            "visibility : :: convex_rs :: function :: Visibility :: Public",
            ":: convex_rs :: function :: Invoker :: Query (__convex_invoke_by_token)",
            "fn __convex_invoke_by_token (__convex_ctx : :: convex_rs :: function :: QueryCtx",
            ":: convex_rs :: __private :: assert_arg :: < String > () ;",
            "let __convex_ctx_ref : & QueryCtx = & __convex_ctx ;",
            "by_token (__convex_ctx_ref , __convex_args . token_identifier) . await",
        ] {
            assert!(out.contains(expected), "missing `{expected}` in {out}");
        }
    }

    #[test]
    fn expands_internal_kinds_and_renames() {
        let out = entry(
            Flavor {
                kind: Kind::Action,
                visibility: Visibility::Internal,
            },
            quote!(name = "doIt"),
            &quote!(
                pub(crate) async fn run_job(ctx: &ActionCtx) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        for expected in [
            "pub (crate) struct RunJobArgs { }",
            "name : \"doIt\"",
            "FunctionKind :: Action",
            "Visibility :: Internal",
            "Invoker :: Action (__convex_invoke_run_job)",
            "run_job (__convex_ctx_ref) . await",
        ] {
            assert!(out.contains(expected), "missing `{expected}` in {out}");
        }
        // No arguments, no assertions.
        assert!(!out.contains("assert_arg"), "{out}");
    }

    #[test]
    fn errors_keep_the_function() {
        let out = expand(
            quote!(),
            &quote!(
                pub fn broken(ctx: &QueryCtx) -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(out.starts_with("pub fn broken"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(!out.contains("struct"), "{out}");
    }

    #[test]
    fn option_errors_also_report_signature_errors() {
        let out = expand(
            quote!(nme = "x"),
            &quote!(
                pub fn broken(ctx: &QueryCtx) -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("unsupported argument `nme`"), "{out}");
        assert!(out.contains("must be `async fn`"), "{out}");
    }

    #[test]
    fn non_functions_are_rejected_and_kept() {
        let out = expand(
            quote!(),
            &quote!(
                pub struct NotAFunction;
            ),
        );
        assert!(out.starts_with("pub struct NotAFunction ;"), "{out}");
        assert!(
            out.contains("`#[query]` can only be applied to an `async fn`"),
            "{out}"
        );
    }
}
