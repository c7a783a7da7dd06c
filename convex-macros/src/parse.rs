//! Parsing and validation: turns the attribute arguments and the annotated
//! `async fn` into a [`Function`] model, or into errors spanned on the
//! offending tokens.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::visit::{self, Visit};
use syn::{
    Error, Expr, ExprLit, FnArg, Ident, ItemFn, Lit, Meta, Pat, PatIdent, PatType, Receiver,
    ReturnType, Signature, Token, Type, TypeImplTrait, TypeReference,
};

use crate::model::{Arg, Flavor, Function, Kind, Options};

/// What the attribute accepts, quoted in error messages.
const OPTIONS_HELP: &str = "the only supported argument is `name = \"exportName\"`";

/// Accumulates errors so that one expansion reports every problem at once.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    /// Records an error.
    fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of `result`, if any, leaving `result` untouched.
    fn check<T>(&mut self, result: &syn::Result<T>) {
        if let Err(error) = result {
            self.push(error.clone());
        }
    }

    /// Fails with every recorded error, if there are any.
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Parses the attribute's arguments: nothing, or `name = "exportName"`.
pub(crate) fn options(attr: TokenStream) -> syn::Result<Options> {
    parse_options.parse2(attr)
}

/// The [`Parser`] behind [`options`].
fn parse_options(input: ParseStream<'_>) -> syn::Result<Options> {
    let mut options = Options::default();
    let mut errors = Errors::default();
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!("expected an argument; {OPTIONS_HELP}")));
        }
        let meta: Meta = input.parse()?;
        if let Err(error) = option(&mut options, &meta) {
            errors.push(error);
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    errors.finish()?;
    Ok(options)
}

/// Records one attribute argument into `options`.
fn option(options: &mut Options, meta: &Meta) -> syn::Result<()> {
    if !meta.path().is_ident("name") {
        let path = meta.path();
        let shown = quote::quote!(#path).to_string().replace(' ', "");
        return Err(Error::new_spanned(
            meta,
            format!("unsupported argument `{shown}`; {OPTIONS_HELP}"),
        ));
    }
    let Meta::NameValue(name_value) = meta else {
        return Err(Error::new_spanned(
            meta,
            "expected a string, e.g. `name = \"sendMessage\"`",
        ));
    };
    let Expr::Lit(ExprLit {
        lit: Lit::Str(name),
        ..
    }) = &name_value.value
    else {
        return Err(Error::new_spanned(
            &name_value.value,
            "expected a string literal, e.g. `name = \"sendMessage\"`",
        ));
    };
    if options.name.is_some() {
        return Err(Error::new_spanned(meta, "duplicate `name` argument"));
    }
    let value = name.value();
    if !is_export_name(&value) {
        return Err(Error::new(
            name.span(),
            format!(
                "invalid function name `{value}`: expected an identifier such as `sendMessage` \
                 (ASCII letters, digits and `_`, not starting with a digit)"
            ),
        ));
    }
    options.name = Some((value, name.span()));
    Ok(())
}

/// Whether `name` can be exported: an ASCII identifier, as function paths
/// require.
fn is_export_name(name: &str) -> bool {
    let mut chars = name.chars();
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    matches!(chars.next(), Some(first) if allowed(first) && !first.is_ascii_digit())
        && chars.all(allowed)
}

/// Validates an annotated function and builds its model.
///
/// Every problem found is reported, each spanned on the offending tokens.
pub(crate) fn function(flavor: Flavor, options: Options, item: &ItemFn) -> syn::Result<Function> {
    let sig = &item.sig;
    let mut errors = Errors::default();
    qualifiers(sig, &mut errors);

    let ctx_ty = context(flavor, sig);
    errors.check(&ctx_ty);
    // After a `self` receiver, the next parameter is most likely the
    // context: only the receiver is reported.
    let args: Vec<syn::Result<Arg>> = match sig.inputs.first() {
        Some(FnArg::Receiver(_)) => Vec::new(),
        _ => sig
            .inputs
            .iter()
            .skip(1)
            .map(|input| argument(flavor, input))
            .collect(),
    };
    for arg in &args {
        errors.check(arg);
    }
    let output = output(sig);
    errors.check(&output);
    errors.finish()?;

    let (export_name, export_name_span) = options
        .name
        .unwrap_or_else(|| (Function::default_export_name(&sig.ident), sig.ident.span()));
    Ok(Function {
        flavor,
        ident: sig.ident.clone(),
        vis: item.vis.clone(),
        docs: attributes_named(item, "doc"),
        deprecations: attributes_named(item, "deprecated"),
        cfgs: attributes_named(item, "cfg"),
        export_name,
        export_name_span,
        ctx_ty: ctx_ty?,
        args: args.into_iter().collect::<syn::Result<_>>()?,
        output: output?,
    })
}

/// The function's attributes whose path is exactly `name`.
fn attributes_named(item: &ItemFn, name: &str) -> Vec<syn::Attribute> {
    item.attrs
        .iter()
        .filter(|attr| attr.path().is_ident(name))
        .cloned()
        .collect()
}

/// Checks the qualifiers and the shape of the signature: `async`, no
/// `const`/`unsafe`/`extern`, no generics, no variadics.
fn qualifiers(sig: &Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        errors.push(Error::new(
            constness.span,
            "convex functions cannot be `const`",
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(Error::new(
            sig.fn_token.span,
            "convex functions must be `async fn`",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(Error::new(
            unsafety.span,
            "convex functions cannot be `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            "convex functions cannot declare an ABI",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(Error::new_spanned(
            &sig.generics,
            "convex functions cannot have generic parameters: \
             their arguments and return type must be concrete types",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(Error::new_spanned(
            where_clause,
            "convex functions cannot have a `where` clause: \
             their arguments and return type must be concrete types",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::new_spanned(
            variadic,
            "convex functions cannot be variadic: \
             declare each argument as a named parameter, e.g. `body: String`",
        ));
    }
}

/// The error for a `self` receiver.
fn receiver_error(flavor: Flavor, receiver: &Receiver) -> Error {
    Error::new_spanned(
        receiver,
        format!(
            "convex functions cannot take `self`: declare a free function \
             whose first parameter is the context, e.g. `{}`",
            flavor.ctx_example()
        ),
    )
}

/// Validates the first parameter, the context, and returns its type as
/// written (e.g. `&QueryCtx`).
fn context(flavor: Flavor, sig: &Signature) -> syn::Result<Type> {
    let missing = format!(
        "the first parameter must be the context, e.g. `{}`",
        flavor.ctx_example()
    );
    let typed = match sig.inputs.first() {
        None => return Err(Error::new(sig.paren_token.span.join(), missing)),
        Some(FnArg::Receiver(receiver)) => return Err(receiver_error(flavor, receiver)),
        Some(FnArg::Typed(typed)) => typed,
    };
    let Type::Reference(reference) = &*typed.ty else {
        return Err(Error::new_spanned(typed, missing));
    };
    if reference.mutability.is_some() {
        return Err(Error::new_spanned(
            &typed.ty,
            format!(
                "the context must be a shared reference, e.g. `{}`",
                flavor.ctx_example()
            ),
        ));
    }
    check_type(&typed.ty, Position::Context)?;
    if let Some(found) = ctx_kind(&reference.elem)
        && found != flavor.kind
    {
        return Err(Error::new_spanned(
            &typed.ty,
            format!(
                "{} takes `&{}`, found `&{}`",
                flavor.described(),
                flavor.kind.ctx_name(),
                found.ctx_name()
            ),
        ));
    }
    Ok((*typed.ty).clone())
}

/// The kind whose context type `ty` names, judged by the last path segment.
///
/// Returns `None` for any other type (an alias, say): rustc checks those.
fn ctx_kind(ty: &Type) -> Option<Kind> {
    match ty {
        Type::Paren(paren) => ctx_kind(&paren.elem),
        Type::Group(group) => ctx_kind(&group.elem),
        Type::Path(path) => {
            let segment = path.path.segments.last()?;
            Kind::from_ctx_name(&segment.ident.to_string())
        }
        _ => None,
    }
}

/// Validates one parameter after the context.
fn argument(flavor: Flavor, input: &FnArg) -> syn::Result<Arg> {
    let PatType { pat, ty, .. } = match input {
        FnArg::Receiver(receiver) => return Err(receiver_error(flavor, receiver)),
        FnArg::Typed(typed) => typed,
    };
    let ident = match &**pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => Ok(ident.clone()),
        other => Err(Error::new_spanned(
            other,
            "convex function arguments must be plain identifiers, e.g. `body: String`; \
             patterns are not supported",
        )),
    };
    let checked = check_type(ty, Position::Argument);
    let mut errors = Errors::default();
    errors.check(&ident);
    errors.check(&checked);
    errors.finish()?;
    Ok(Arg {
        ident: ident?,
        ty: (**ty).clone(),
    })
}

/// Validates the return type, which must be present.
fn output(sig: &Signature) -> syn::Result<Type> {
    match &sig.output {
        ReturnType::Default => Err(Error::new_spanned(
            sig,
            "convex functions must return `Result<T, E>`, \
             e.g. `-> Result<Doc<User>, FunctionError>`",
        )),
        ReturnType::Type(_, ty) => {
            check_type(ty, Position::Return)?;
            Ok((**ty).clone())
        }
    }
}

/// Where a type appears in the signature, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The context parameter's type.
    Context,
    /// A named argument's type.
    Argument,
    /// The return type.
    Return,
}

/// Rejects `impl Trait` anywhere in a type and, in arguments, references.
fn check_type(ty: &Type, position: Position) -> syn::Result<()> {
    let mut checker = TypeChecker {
        position,
        errors: Errors::default(),
    };
    checker.visit_type(ty);
    checker.errors.finish()
}

/// The visitor behind [`check_type`].
struct TypeChecker {
    /// Where the visited type appears.
    position: Position,
    /// Problems found so far.
    errors: Errors,
}

impl<'ast> Visit<'ast> for TypeChecker {
    fn visit_type_impl_trait(&mut self, node: &'ast TypeImplTrait) {
        let message = match self.position {
            Position::Context | Position::Argument => {
                "`impl Trait` is not allowed in the parameters of convex functions: \
                 use a concrete type"
            }
            Position::Return => {
                "`impl Trait` is not allowed in the return type of convex functions: \
                 return a concrete `Result<T, E>`"
            }
        };
        self.errors.push(Error::new_spanned(node, message));
    }

    fn visit_type_reference(&mut self, node: &'ast TypeReference) {
        if self.position == Position::Argument {
            self.errors.push(Error::new_spanned(
                node,
                "convex function arguments are deserialized into owned values: \
                 use an owned type such as `String` or `Vec<T>` instead of a reference",
            ));
        } else {
            visit::visit_type_reference(self, node);
        }
    }
}

/// Parses the annotated item, which must be a function.
///
/// Items of another kind get an error saying where the attribute belongs;
/// tokens that do not parse as an item get the parser's error.
pub(crate) fn item(flavor: Flavor, item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<syn::Item>(item)? {
        syn::Item::Fn(item_fn) => Ok(item_fn),
        other => Err(Error::new_spanned(
            other,
            format!(
                "`#[{}]` can only be applied to an `async fn`",
                flavor.macro_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::{ToTokens, quote};
    use syn::{ItemFn, parse_quote};

    use super::{function, options};
    use crate::model::{Flavor, Function, Kind, Options, Visibility};

    const QUERY: Flavor = Flavor {
        kind: Kind::Query,
        visibility: Visibility::Public,
    };

    fn ok(flavor: Flavor, item: &ItemFn) -> Function {
        match function(flavor, Options::default(), item) {
            Ok(function) => function,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    /// Every message of the error produced for `item`, in order.
    fn errors(flavor: Flavor, item: &ItemFn) -> Vec<String> {
        match function(flavor, Options::default(), item) {
            Ok(function) => panic!("expected an error, got {function:?}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn option_error(attr: TokenStream) -> String {
        match options(attr) {
            Ok(options) => panic!("expected an error, got {options:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn parses_a_query() {
        let f = ok(
            QUERY,
            &parse_quote! {
                /// Looks a user up.
                #[cfg(feature = "users")]
                #[inline]
                pub async fn by_token(
                    ctx: &QueryCtx,
                    token_identifier: String,
                    mut limit: Option<u32>,
                ) -> Result<Option<Doc<User>>, FunctionError> {
                    todo!()
                }
            },
        );
        assert_eq!(f.ident, "by_token");
        assert_eq!(f.export_name, "byToken");
        assert_eq!(f.vis.to_token_stream().to_string(), "pub");
        assert_eq!(f.docs.len(), 1);
        assert_eq!(f.cfgs.len(), 1);
        assert_eq!(f.ctx_ty.to_token_stream().to_string(), "& QueryCtx");
        let args: Vec<_> = f
            .args
            .iter()
            .map(|arg| (arg.ident.to_string(), arg.ty.to_token_stream().to_string()))
            .collect();
        assert_eq!(
            args,
            [
                ("token_identifier".to_owned(), "String".to_owned()),
                ("limit".to_owned(), "Option < u32 >".to_owned()),
            ]
        );
        assert_eq!(
            f.output.to_token_stream().to_string(),
            "Result < Option < Doc < User > > , FunctionError >"
        );
    }

    #[test]
    fn accepts_qualified_and_aliased_contexts() {
        let flavor = Flavor {
            kind: Kind::Mutation,
            visibility: Visibility::Internal,
        };
        let f = ok(
            flavor,
            &parse_quote!(
                async fn f(_: &convex_rs::function::MutationCtx) -> R {}
            ),
        );
        assert!(f.args.is_empty());
        // Aliases cannot be checked syntactically; rustc checks them.
        ok(
            flavor,
            &parse_quote!(
                async fn f(ctx: &'static Ctx) -> R {}
            ),
        );
    }

    #[test]
    fn name_option_overrides_the_export_name() {
        let options = options(quote!(name = "lookUp")).unwrap_or_default();
        let item: ItemFn = parse_quote!(
            async fn by_token(ctx: &QueryCtx) -> R {}
        );
        let f = function(QUERY, options, &item).map_err(|e| e.to_string());
        assert_eq!(f.map(|f| f.export_name), Ok("lookUp".to_owned()));
    }

    #[test]
    fn empty_options() {
        let parsed = options(TokenStream::new()).map(|o| o.name);
        assert!(matches!(parsed, Ok(None)));
    }

    #[test]
    fn rejects_bad_options() {
        assert_eq!(
            option_error(quote!(foo = "bar")),
            "unsupported argument `foo`; the only supported argument is `name = \"exportName\"`"
        );
        assert_eq!(
            option_error(quote!(rename(x))),
            "unsupported argument `rename`; the only supported argument is `name = \"exportName\"`"
        );
        assert_eq!(
            option_error(quote!("byToken")),
            "expected an argument; the only supported argument is `name = \"exportName\"`"
        );
        assert_eq!(
            option_error(quote!(name = by_token)),
            "expected a string literal, e.g. `name = \"sendMessage\"`"
        );
        assert_eq!(
            option_error(quote!(name)),
            "expected a string, e.g. `name = \"sendMessage\"`"
        );
        assert_eq!(
            option_error(quote!(name = "a", name = "b")),
            "duplicate `name` argument"
        );
        assert!(option_error(quote!(name = "send-message")).starts_with("invalid function name"));
        assert!(option_error(quote!(name = "2fa")).starts_with("invalid function name"));
        assert!(option_error(quote!(name = "")).starts_with("invalid function name"));
        assert!(option_error(quote!(name = "$x")).starts_with("invalid function name"));
        assert!(option_error(quote!(name = "é")).starts_with("invalid function name"));
    }

    #[test]
    fn accepts_valid_export_names() {
        for name in ["a", "sendMessage", "_x", "_", "z9"] {
            let parsed = options(quote!(name = #name)).map(|o| o.name.map(|(name, _)| name));
            assert!(matches!(parsed, Ok(Some(ref n)) if n == name), "{name}");
        }
    }

    #[test]
    fn requires_async() {
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    fn f(ctx: &QueryCtx) -> R {}
                )
            ),
            ["convex functions must be `async fn`"]
        );
    }

    #[test]
    fn requires_a_context() {
        let expected = ["the first parameter must be the context, e.g. `ctx: &QueryCtx`"];
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    async fn f() -> R {}
                )
            ),
            expected
        );
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    async fn f(body: String) -> R {}
                )
            ),
            expected
        );
        let action = Flavor {
            kind: Kind::Action,
            visibility: Visibility::Public,
        };
        assert_eq!(
            errors(
                action,
                &parse_quote!(
                    async fn f(ctx: ActionCtx) -> R {}
                )
            ),
            ["the first parameter must be the context, e.g. `ctx: &ActionCtx`"]
        );
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    async fn f(ctx: &mut QueryCtx) -> R {}
                )
            ),
            ["the context must be a shared reference, e.g. `ctx: &QueryCtx`"]
        );
    }

    #[test]
    fn rejects_the_wrong_context() {
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    async fn f(ctx: &MutationCtx) -> R {}
                )
            ),
            ["a query takes `&QueryCtx`, found `&MutationCtx`"]
        );
        let internal_action = Flavor {
            kind: Kind::Action,
            visibility: Visibility::Internal,
        };
        assert_eq!(
            errors(
                internal_action,
                &parse_quote!(
                    async fn f(ctx: &crate::QueryCtx) -> R {}
                )
            ),
            ["an internal action takes `&ActionCtx`, found `&QueryCtx`"]
        );
    }

    #[test]
    fn rejects_receivers() {
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(&self) -> R {}
            ),
        );
        assert_eq!(message.len(), 1);
        assert!(message[0].starts_with("convex functions cannot take `self`"));
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(&self, ctx: &QueryCtx, a: u8) -> R {}
            ),
        );
        assert_eq!(message.len(), 1);
        assert!(message[0].starts_with("convex functions cannot take `self`"));
    }

    #[test]
    fn rejects_generics_and_where_clauses() {
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f<T>(ctx: &QueryCtx, t: T) -> R
                where
                    T: Clone,
                {
                }
            ),
        );
        assert_eq!(message.len(), 2);
        assert!(message[0].starts_with("convex functions cannot have generic parameters"));
        assert!(message[1].starts_with("convex functions cannot have a `where` clause"));
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f<'a>(ctx: &'a QueryCtx) -> R {}
            ),
        );
        assert!(message[0].starts_with("convex functions cannot have generic parameters"));
    }

    #[test]
    fn rejects_qualifiers() {
        let message = errors(
            QUERY,
            &parse_quote!(
                const async unsafe extern "C" fn f(ctx: &QueryCtx) -> R {}
            ),
        );
        assert_eq!(
            message,
            [
                "convex functions cannot be `const`",
                "convex functions cannot be `unsafe`",
                "convex functions cannot declare an ABI",
            ]
        );
    }

    #[test]
    fn rejects_patterns() {
        let pattern = "convex function arguments must be plain identifiers, e.g. `body: String`; \
                       patterns are not supported";
        for item in [
            parse_quote!(
                async fn f(ctx: &QueryCtx, (a, b): (u8, u8)) -> R {}
            ),
            parse_quote!(
                async fn f(ctx: &QueryCtx, _: u8) -> R {}
            ),
            parse_quote!(
                async fn f(ctx: &QueryCtx, ref a: u8) -> R {}
            ),
            parse_quote!(
                async fn f(ctx: &QueryCtx, a @ 1..=2: u8) -> R {}
            ),
        ] {
            assert_eq!(errors(QUERY, &item), [pattern]);
        }
    }

    #[test]
    fn rejects_impl_trait_and_references() {
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(ctx: &QueryCtx, a: impl Into<String>, b: Vec<&str>) -> R {}
            ),
        );
        assert_eq!(message.len(), 2);
        assert!(message[0].starts_with("`impl Trait` is not allowed in the parameters"));
        assert!(message[1].starts_with("convex function arguments are deserialized"));
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(ctx: &impl Ctx) -> R {}
            ),
        );
        assert!(message[0].starts_with("`impl Trait` is not allowed in the parameters"));
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(ctx: &QueryCtx) -> Result<impl Serialize, E> {}
            ),
        );
        assert!(message[0].starts_with("`impl Trait` is not allowed in the return type"));
    }

    #[test]
    fn rejects_variadics() {
        let message = errors(
            QUERY,
            &parse_quote!(
                async fn f(ctx: &QueryCtx, ...) -> R {}
            ),
        );
        assert!(
            message
                .iter()
                .any(|m| m.starts_with("convex functions cannot be variadic")),
            "{message:?}"
        );
    }

    #[test]
    fn requires_a_return_type() {
        assert_eq!(
            errors(
                QUERY,
                &parse_quote!(
                    async fn f(ctx: &QueryCtx) {}
                )
            ),
            [
                "convex functions must return `Result<T, E>`, e.g. `-> Result<Doc<User>, FunctionError>`"
            ]
        );
    }

    #[test]
    fn reports_every_problem() {
        let message = errors(
            QUERY,
            &parse_quote!(
                fn f(ctx: &MutationCtx, (a, b): (u8, u8)) {}
            ),
        );
        assert_eq!(
            message,
            [
                "convex functions must be `async fn`",
                "a query takes `&QueryCtx`, found `&MutationCtx`",
                "convex function arguments must be plain identifiers, e.g. `body: String`; \
                 patterns are not supported",
                "convex functions must return `Result<T, E>`, e.g. `-> Result<Doc<User>, FunctionError>`",
            ]
        );
    }
}
