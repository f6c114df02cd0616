//! The `ember` binary: parses the command line and runs the server.

use std::process::ExitCode;

use clap::Parser;
use ember_http::config::{self, Cli, Command};
use tokio::net::TcpListener;

/// mimalloc rather than glibc's malloc: a profile of reads under load showed about 7% of the
/// server's CPU in glibc malloc and free (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(&args),
    }
}

fn serve(args: &config::ServeArgs) -> ExitCode {
    let settings = match config::load(args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ember: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) =
        ember_http::observability::init_logging(settings.log_format, &settings.log_level)
    {
        eprintln!("ember: {error}");
        return ExitCode::from(2);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if settings.worker_threads > 0 {
        builder.worker_threads(settings.worker_threads);
    }
    let runtime = match builder.enable_all().thread_name("ember-worker").build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ember: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(settings.listen).await.map_err(|error| {
            ember_http::Error::Config(format!("cannot listen on {}: {error}", settings.listen))
        })?;
        ember_http::run(settings, listener, ember_http::shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Ember stopped");
            eprintln!("ember: {error}");
            ExitCode::FAILURE
        }
    }
}
