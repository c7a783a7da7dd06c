//! The validated description of a convex function, produced by
//! [`crate::parse`] and consumed by [`crate::expand`].

use proc_macro2::Span;
use quote::format_ident;
use syn::{Attribute, Ident, Type};

use crate::case;

/// Which kind of convex function a macro declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A read-only, reactive query.
    Query,
    /// A transactional mutation.
    Mutation,
    /// An action, free to have side effects.
    Action,
}

impl Kind {
    /// Every kind, in declaration order.
    pub(crate) const ALL: [Kind; 3] = [Kind::Query, Kind::Mutation, Kind::Action];

    /// The name of the runtime's context type for this kind, e.g. `QueryCtx`.
    pub(crate) fn ctx_name(self) -> &'static str {
        match self {
            Kind::Query => "QueryCtx",
            Kind::Mutation => "MutationCtx",
            Kind::Action => "ActionCtx",
        }
    }

    /// The variant name shared by `FunctionKind` and `Invoker`, e.g. `Query`.
    pub(crate) fn variant_name(self) -> &'static str {
        match self {
            Kind::Query => "Query",
            Kind::Mutation => "Mutation",
            Kind::Action => "Action",
        }
    }

    /// The lower-case noun used in messages, e.g. `query`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
            Kind::Action => "action",
        }
    }

    /// The kind whose context type is named `name`, if any.
    pub(crate) fn from_ctx_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.ctx_name() == name)
    }
}

/// Who may call a convex function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visibility {
    /// Callable by clients.
    Public,
    /// Callable only by other functions of the same deployment.
    Internal,
}

impl Visibility {
    /// The runtime's `Visibility` variant name.
    pub(crate) fn variant_name(self) -> &'static str {
        match self {
            Visibility::Public => "Public",
            Visibility::Internal => "Internal",
        }
    }
}

/// Which macro is being expanded: a kind and a visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flavor {
    /// The kind of function.
    pub(crate) kind: Kind,
    /// Who may call it.
    pub(crate) visibility: Visibility,
}

impl Flavor {
    /// The name of the attribute macro, e.g. `internal_query`.
    pub(crate) fn macro_name(self) -> String {
        match self.visibility {
            Visibility::Public => self.kind.noun().to_owned(),
            Visibility::Internal => format!("internal_{}", self.kind.noun()),
        }
    }

    /// The noun phrase used in messages, e.g. `a query` or `an internal action`.
    pub(crate) fn described(self) -> String {
        match (self.visibility, self.kind) {
            (Visibility::Public, Kind::Action) => "an action".to_owned(),
            (Visibility::Public, kind) => format!("a {}", kind.noun()),
            (Visibility::Internal, kind) => format!("an internal {}", kind.noun()),
        }
    }

    /// An example context parameter for this kind, e.g. `ctx: &QueryCtx`.
    pub(crate) fn ctx_example(self) -> String {
        format!("ctx: &{}", self.kind.ctx_name())
    }
}

/// The options given inside the attribute, e.g. `#[query(name = "byToken")]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// The exported name overriding the camelCase of the function name, with
    /// the span of its string literal.
    pub(crate) name: Option<(String, Span)>,
}

/// One named argument of a convex function (a parameter after the context).
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    /// The parameter's name, which is also the arguments struct's field name.
    pub(crate) ident: Ident,
    /// The parameter's type, as written.
    pub(crate) ty: Type,
}

/// A validated convex function: everything the expansion needs.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    /// Which macro declared it.
    pub(crate) flavor: Flavor,
    /// The function's name.
    pub(crate) ident: Ident,
    /// The function's Rust visibility, reused for the generated types.
    pub(crate) vis: syn::Visibility,
    /// The function's doc comments, copied onto the marker type.
    pub(crate) docs: Vec<Attribute>,
    /// The function's `#[deprecated]` attributes, copied onto the marker type.
    pub(crate) deprecations: Vec<Attribute>,
    /// The function's `#[cfg]` attributes, copied onto every generated item.
    pub(crate) cfgs: Vec<Attribute>,
    /// The name the function is exported under.
    pub(crate) export_name: String,
    /// Where the exported name comes from: the `name = "..."` literal or the
    /// function name.
    pub(crate) export_name_span: Span,
    /// The type of the context parameter as written, e.g. `&QueryCtx`.
    pub(crate) ctx_ty: Type,
    /// The named arguments, in declaration order.
    pub(crate) args: Vec<Arg>,
    /// The declared return type.
    pub(crate) output: Type,
}

impl Function {
    /// The function name without any `r#` prefix.
    pub(crate) fn plain_name(&self) -> String {
        case::unraw(&self.ident.to_string()).to_owned()
    }

    /// The default exported name of a function: the camelCase of its name.
    pub(crate) fn default_export_name(ident: &Ident) -> String {
        case::camel_case(&ident.to_string())
    }

    /// The arguments struct, e.g. `ByTokenArgs` for `by_token`.
    pub(crate) fn args_ident(&self) -> Ident {
        let pascal = case::pascal_case(&self.ident.to_string());
        format_ident!("{}Args", pascal, span = self.ident.span())
    }

    /// The registration static, e.g. `__CONVEX_FN_by_token`.
    pub(crate) fn entry_ident(&self) -> Ident {
        format_ident!("__CONVEX_FN_{}", self.plain_name())
    }

    /// The type-erased invoker, e.g. `__convex_invoke_by_token`.
    pub(crate) fn invoke_ident(&self) -> Ident {
        format_ident!("__convex_invoke_{}", self.plain_name())
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;
    use syn::parse_quote;

    use super::{Flavor, Function, Kind, Visibility};

    fn function(ident: syn::Ident) -> Function {
        Function {
            flavor: Flavor {
                kind: Kind::Query,
                visibility: Visibility::Public,
            },
            export_name: Function::default_export_name(&ident),
            ident,
            vis: parse_quote!(pub),
            docs: Vec::new(),
            deprecations: Vec::new(),
            cfgs: Vec::new(),
            export_name_span: Span::call_site(),
            ctx_ty: parse_quote!(&QueryCtx),
            args: Vec::new(),
            output: parse_quote!(Result<(), FunctionError>),
        }
    }

    #[test]
    fn derived_names() {
        let f = function(parse_quote!(by_token));
        assert_eq!(f.export_name, "byToken");
        assert_eq!(f.args_ident().to_string(), "ByTokenArgs");
        assert_eq!(f.entry_ident().to_string(), "__CONVEX_FN_by_token");
        assert_eq!(f.invoke_ident().to_string(), "__convex_invoke_by_token");
    }

    #[test]
    fn derived_names_of_raw_identifiers() {
        let f = function(parse_quote!(r#type));
        assert_eq!(f.export_name, "type");
        assert_eq!(f.plain_name(), "type");
        assert_eq!(f.args_ident().to_string(), "TypeArgs");
        assert_eq!(f.entry_ident().to_string(), "__CONVEX_FN_type");
        assert_eq!(f.invoke_ident().to_string(), "__convex_invoke_type");
    }

    #[test]
    fn flavor_descriptions() {
        let flavor = |kind, visibility| Flavor { kind, visibility };
        let query = flavor(Kind::Query, Visibility::Public);
        assert_eq!(query.described(), "a query");
        assert_eq!(query.macro_name(), "query");
        assert_eq!(query.ctx_example(), "ctx: &QueryCtx");
        let action = flavor(Kind::Action, Visibility::Public);
        assert_eq!(action.described(), "an action");
        let internal = flavor(Kind::Mutation, Visibility::Internal);
        assert_eq!(internal.described(), "an internal mutation");
        assert_eq!(internal.macro_name(), "internal_mutation");
        assert_eq!(internal.ctx_example(), "ctx: &MutationCtx");
    }

    #[test]
    fn kinds_round_trip_through_ctx_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_ctx_name(kind.ctx_name()), Some(kind));
        }
        assert_eq!(Kind::from_ctx_name("Ctx"), None);
    }
}
