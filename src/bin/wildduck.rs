//! The `wildduck` daemon: `wildduck --config wildduck.toml` (see `examples/wildduck.toml`).

fn main() -> std::process::ExitCode {
    wildduck::daemon::main()
}
