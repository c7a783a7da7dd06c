//! The notes example's binary: `notes serve --listen 127.0.0.1:3210 --data ./convex-data`.
//! `notes:addText` needs `EMBEDDINGS_URL` (see the crate documentation).

fn main() -> std::process::ExitCode {
    convex_rs::server::run_cli(notes::app)
}
