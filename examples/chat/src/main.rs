//! The chat example's binary: `chat serve --listen 127.0.0.1:3210 --data ./convex-data`.

// ANCHOR: main
fn main() -> std::process::ExitCode {
    convex_rs::server::run_cli(chat::app)
}
// ANCHOR_END: main
