//! The `ember-load` binary: see `ember-load --help` and docs/loadtests.md.

fn main() -> std::process::ExitCode {
    loadtests::cli::main()
}
