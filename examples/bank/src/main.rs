//! The bank example's binary: `bank serve --listen 127.0.0.1:3210 --data ./convex-data`.

fn main() -> std::process::ExitCode {
    convex_rs::server::run_cli(bank::app)
}
