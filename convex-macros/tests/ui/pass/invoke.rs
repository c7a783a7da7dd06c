//! End to end through the runtime's test backend: the generated invokers
//! decode camelCase arguments, call the function and encode its result.
#![deny(warnings)]

mod greetings {
    use convex_rs::prelude::*;

    /// Repeats a name.
    #[query]
    pub async fn repeat_name(
        ctx: &QueryCtx,
        first_name: String,
        times: u32,
    ) -> Result<String, FunctionError> {
        let _ = ctx;
        Ok(first_name.repeat(times as usize))
    }

    /// Adds one; exported under another name.
    #[mutation(name = "bump")]
    pub async fn increment(ctx: &MutationCtx, value: i64) -> Result<i64, FunctionError> {
        let _ = ctx;
        Ok(value + 1)
    }

    /// Always fails.
    #[internal_action]
    pub async fn refuse(ctx: &ActionCtx) -> Result<(), FunctionError> {
        let _ = ctx;
        Err(FunctionError::message("refused"))
    }
}

use convex_rs::prelude::*;
use greetings::{IncrementArgs, RefuseArgs, RepeatNameArgs};
use serde::Serialize;

/// The wire form of `repeat_name`'s arguments.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    first_name: String,
    times: u32,
}

/// The same, with a field the function does not take.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireWithExtra {
    first_name: String,
    times: u32,
    extra: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App::builder()
        .register::<greetings::repeat_name>()
        .register::<greetings::increment>()
        .register::<greetings::refuse>()
        .build()
        .expect("app builds");
    let t = TestBackend::new(app).await.expect("backend opens");

    let repeated = t
        .query::<greetings::repeat_name>(RepeatNameArgs {
            first_name: "ab".to_owned(),
            times: 3,
        })
        .await
        .expect("query succeeds");
    assert_eq!(repeated, "ababab");

    let bumped = t
        .mutation::<greetings::increment>(IncrementArgs { value: 41 })
        .await
        .expect("mutation succeeds");
    assert_eq!(bumped, 42);

    let failure = t
        .action::<greetings::refuse>(RefuseArgs {})
        .await
        .expect_err("action fails");
    assert!(failure.message.contains("refused"), "{}", failure.message);

    // By path, with the arguments as a client sends them.
    let wire = Wire {
        first_name: "x".to_owned(),
        times: 2,
    };
    let repeated: String = t
        .query_path("greetings:repeatName", wire)
        .await
        .expect("query by path succeeds");
    assert_eq!(repeated, "xx");
    let bumped: i64 = t
        .mutation_path("greetings:bump", IncrementArgs { value: 1 })
        .await
        .expect("renamed mutation succeeds");
    assert_eq!(bumped, 2);

    // Unknown fields are rejected.
    let extra = WireWithExtra {
        first_name: "x".to_owned(),
        times: 2,
        extra: true,
    };
    let rejected = t
        .query_path::<String>("greetings:repeatName", extra)
        .await
        .expect_err("unknown fields are rejected");
    assert!(rejected.message.contains("extra"), "{}", rejected.message);
}
