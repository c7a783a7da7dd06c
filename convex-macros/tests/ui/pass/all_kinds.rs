//! Every macro registers its function with the right kind, visibility and
//! exported name.
#![deny(warnings)]

use convex_rs::function::{FunctionEntry, FunctionInfo, FunctionKind, Visibility};

mod chat {
    pub mod users {
        use convex_rs::prelude::*;

        /// Finds the user owning a token.
        #[query]
        pub async fn by_token(
            ctx: &QueryCtx,
            token_identifier: String,
        ) -> Result<Option<String>, FunctionError> {
            let _ = ctx;
            Ok(Some(token_identifier))
        }

        /// Renames a user.
        #[mutation]
        pub async fn rename_user(ctx: &MutationCtx, name: String) -> Result<(), FunctionError> {
            let _ = (ctx, name);
            Ok(())
        }

        /// Sends a welcome e-mail.
        #[action]
        pub async fn send_welcome(ctx: &ActionCtx, to: String) -> Result<bool, FunctionError> {
            let _ = (ctx, to);
            Ok(true)
        }

        /// Counts users.
        #[internal_query]
        pub async fn count(ctx: &QueryCtx) -> Result<u64, FunctionError> {
            let _ = ctx;
            Ok(0)
        }

        /// Deletes every user.
        #[internal_mutation]
        pub async fn delete_all(ctx: &MutationCtx) -> Result<(), FunctionError> {
            let _ = ctx;
            Ok(())
        }

        /// Rebuilds the search index.
        #[internal_action]
        pub async fn reindex(ctx: &ActionCtx) -> Result<(), FunctionError> {
            let _ = ctx;
            Ok(())
        }
    }
}

use chat::users;

fn check<F: FunctionInfo>(name: &str, kind: FunctionKind, visibility: Visibility) {
    let entry: &FunctionEntry = F::ENTRY;
    assert_eq!(entry.name, name);
    // The crate's name is chosen by the test harness.
    assert!(
        entry.module_path.ends_with("::chat::users"),
        "{}",
        entry.module_path
    );
    assert!(entry.file.ends_with("all_kinds.rs"), "{}", entry.file);
    assert!(entry.line > 0);
    assert_eq!(
        std::mem::discriminant(&entry.kind),
        std::mem::discriminant(&kind)
    );
    assert_eq!(
        std::mem::discriminant(&entry.visibility),
        std::mem::discriminant(&visibility)
    );
    // Every entry is also in the distributed slice the runtime reads.
    assert!(
        convex_rs::__private::FUNCTIONS
            .iter()
            .any(|registered| std::ptr::eq(registered, entry))
    );
}

fn main() {
    check::<users::by_token>("byToken", FunctionKind::Query, Visibility::Public);
    check::<users::rename_user>("renameUser", FunctionKind::Mutation, Visibility::Public);
    check::<users::send_welcome>("sendWelcome", FunctionKind::Action, Visibility::Public);
    check::<users::count>("count", FunctionKind::Query, Visibility::Internal);
    check::<users::delete_all>("deleteAll", FunctionKind::Mutation, Visibility::Internal);
    check::<users::reindex>("reindex", FunctionKind::Action, Visibility::Internal);
    assert_eq!(convex_rs::__private::FUNCTIONS.len(), 6);

    // The function itself is still there, untouched, next to its marker type.
    let _future = users::by_token;
    let _marker: users::by_token = users::by_token {};
}
