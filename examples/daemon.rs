//! The bundled daemon as an example, the same program as the `wildduck` binary:
//!
//! ```sh
//! cargo run --release --example daemon -- --config examples/wildduck.toml
//! ```

fn main() -> std::process::ExitCode {
    wildduck::daemon::main()
}
