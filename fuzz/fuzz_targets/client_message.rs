//! Sync protocol client messages. The input is one websocket text frame per
//! line. Each frame is parsed into a `ClientMessage` exactly as the session
//! does (`serde_json::from_str`), its arguments decoded as the session does,
//! and parsed messages re-encode to themselves. Then all the frames are fed,
//! in order, to a real session (`run_session`) on an in-process backend with
//! the bank example's schema and no functions, so the session's own checks
//! (Connect first, query set and identity versions, query ids, tokens, ...)
//! run on them. A session must always end once its client is gone, and
//! never hang on any input.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use convex_rs::app::{App, Backend, BackendConfig};
use convex_rs::function::FunctionPath;
use convex_rs::fuzzing::args_from_wire;
use convex_rs::sync::protocol::{ClientMessage, QuerySetModification};
use convex_rs::sync::{Hub, Incoming, Outgoing, OutgoingBudget, SessionConfig, run_session};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};

struct Env {
    runtime: Runtime,
    backend: Backend,
    hub: Hub,
    /// Kept alive: a closed shutdown channel would end every session at once.
    shutdown: watch::Sender<bool>,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (backend, hub) = runtime.block_on(async {
            let app = App::builder()
                .schema(bank::schema())
                .build()
                .expect("the bank schema builds");
            let backend = Backend::open(app, BackendConfig::temporary())
                .await
                .expect("a temporary backend opens");
            let hub = Hub::start(backend.runner().clone());
            (backend, hub)
        });
        let (shutdown, _) = watch::channel(false);
        Env {
            runtime,
            backend,
            hub,
            shutdown,
        }
    })
}

fn check_message(message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("a client message serializes");
    let again: ClientMessage = serde_json::from_str(&text).expect("a serialized message parses");
    assert_eq!(&again, message, "client message round trip changed it");
    let call = |udf_path: &str, args: &[serde_json::Value]| {
        let _ = FunctionPath::parse(udf_path);
        let _ = args_from_wire(args.to_vec());
    };
    match message {
        ClientMessage::Mutation { udf_path, args, .. }
        | ClientMessage::Action { udf_path, args, .. } => call(udf_path, args),
        ClientMessage::ModifyQuerySet { modifications, .. } => {
            for modification in modifications {
                if let QuerySetModification::Add { udf_path, args, .. } = modification {
                    call(udf_path, args);
                }
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let frames: Vec<&str> = text.lines().take(16).collect();
    for frame in &frames {
        if let Ok(message) = serde_json::from_str::<ClientMessage>(frame) {
            check_message(&message);
        }
    }
    let env = env();
    let _ = &env.backend;
    env.runtime.block_on(async {
        let (incoming_tx, incoming) = mpsc::channel(frames.len().max(1));
        let (out, mut outgoing) = mpsc::channel(64);
        for frame in &frames {
            incoming_tx
                .try_send(Incoming::Text((*frame).to_owned()))
                .expect("the channel holds every frame");
        }
        drop(incoming_tx);
        let budget = Arc::new(OutgoingBudget::default());
        let session = tokio::spawn(run_session(
            env.hub.clone(),
            env.backend.runner().clone(),
            SessionConfig::default(),
            incoming,
            out,
            budget.clone(),
            env.shutdown.subscribe(),
        ));
        // Reads what the session sends, as the socket writer would.
        let drain = async {
            while let Some(outgoing) = outgoing.recv().await {
                if let Outgoing::Frames(frames) = outgoing {
                    budget.written(frames.iter().map(String::len).sum());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .expect("the session ends after its client is gone");
        session.await.expect("the session does not panic");
    });
});
