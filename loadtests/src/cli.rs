//! The command line: `generate`, `load`, `run`, `compare` and `smoke`, parsed with clap and
//! dispatched on a tokio runtime sized by `--threads`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::generate::{generate_dataset, DatasetFormat};
use crate::load::{load, LoadOptions};
use crate::report::{compare, read_result, render_comparison, write_outputs, Mode};
use crate::run::{run, smoke, RunPlan};
use crate::target::Target;

/// Load tests for FHIR servers: Ember, HAPI FHIR, or any other, over plain HTTP.
#[derive(Debug, Parser)]
#[command(name = "ember-load", version)]
pub struct Cli {
    /// Runtime worker threads (default: the machine's cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a seeded Synthea-shaped dataset (same seed, same bytes).
    Generate {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Resources to generate, at least (whole patients: about 35 resources each).
        #[arg(long, default_value_t = 1_000)]
        resources: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = DatasetFormat::Ndjson)]
        format: DatasetFormat,
    },
    /// Load a generated dataset: NDJSON with concurrent PUT [type]/[id], or transactions.
    Load {
        /// The directory `generate` wrote.
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        server: Server,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Time scenarios: closed loop at fixed clients, open loop at a fixed rate, or a sweep.
    Run(RunArgs),
    /// Print the ratios B / A between two result files.
    Compare { a: PathBuf, b: PathBuf },
    /// Run read, create and the CRUD cycle briefly; fail on any error.
    Smoke {
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value = "loadtest-results/smoke")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
struct Server {
    /// The FHIR base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/fhir")]
    base_url: String,
    /// Value of an Authorization header sent with every request, e.g. "Bearer abc".
    #[arg(long)]
    auth_header: Option<String>,
    /// Per-request timeout.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Sweep {
    /// Closed loop over `--steps` clients (default 1,4,16,64,128).
    Concurrency,
    /// Open loop over `--steps` rates per second (default 250,500,1000,2000,4000,8000).
    Rate,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Scenarios, or the groups `all`, `rest`, `search`.
    #[arg(required = true)]
    scenarios: Vec<String>,
    #[command(flatten)]
    server: Server,
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    mode: Mode,
    /// Clients (closed loop) or connections (open loop).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Requests per second (open loop).
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    #[arg(long, value_enum)]
    sweep: Option<Sweep>,
    /// The sweep's steps, comma-separated.
    #[arg(long, value_delimiter = ',')]
    steps: Vec<f64>,
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    warmup: Duration,
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    duration: Duration,
    /// Seed of the data scenarios create.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for results.json, results.md and the SVG charts.
    #[arg(long, default_value = "loadtest-results")]
    out: PathBuf,
    /// Exit 0 even if some scenarios were skipped (the server answered their check wrongly).
    #[arg(long)]
    allow_skipped: bool,
}

/// `5s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|character: char| character.is_ascii_alphabetic()) {
        Some(split) => text.split_at(split),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 5s, 500ms or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text:?}: {error}"))
}

/// Parses the command line, runs the command, and maps failure to a non-zero exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ember-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("ember-load: {message}");
            ExitCode::FAILURE
        }
    }
}

fn target(server: &Server) -> Result<Target, String> {
    Target::new(&server.base_url, server.auth_header.as_deref())
}

async fn execute(command: Command) -> Result<ExitCode, String> {
    let mut stdout = std::io::stdout().lock();
    match command {
        Command::Generate {
            out,
            resources,
            seed,
            format,
        } => {
            let summary = generate_dataset(&out, seed, resources, format)?;
            let _ = writeln!(
                stdout,
                "{} resources ({} patients) in {}",
                summary.resources,
                summary.patients,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Load {
            data,
            server,
            concurrency,
        } => {
            let options = LoadOptions {
                directory: data,
                concurrency,
                timeout: server.timeout,
            };
            let report = load(Arc::new(target(&server)?), &options).await?;
            let _ = writeln!(
                stdout,
                "{} loaded, {} failed, in {:.1} s ({:.0}/s); {} resources ({:.0} resources/s)",
                report.loaded,
                report.failed,
                report.seconds,
                report.loaded as f64 / report.seconds.max(1e-9),
                report.resources,
                report.resources as f64 / report.seconds.max(1e-9)
            );
            for error in &report.errors {
                let _ = writeln!(stdout, "  {error}");
            }
            Ok(if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run(arguments) => run_command(arguments, &mut stdout).await,
        Command::Compare { a, b } => {
            let (a, b) = (read_result(&a)?, read_result(&b)?);
            let _ = write!(stdout, "{}", render_comparison(&a, &b, &compare(&a, &b)));
            Ok(ExitCode::SUCCESS)
        }
        Command::Smoke { server, out } => {
            let result = smoke(target(&server)?).await;
            match result {
                Ok(result) => {
                    write_outputs(&result, &out)?;
                    let _ = writeln!(stdout, "smoke passed; results in {}", out.display());
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => Err(format!("smoke failed: {problems}")),
            }
        }
    }
}

async fn run_command(arguments: RunArgs, stdout: &mut impl Write) -> Result<ExitCode, String> {
    let mode = match arguments.sweep {
        Some(Sweep::Concurrency) => Mode::Closed,
        Some(Sweep::Rate) => Mode::Open,
        None => arguments.mode,
    };
    let steps = if arguments.steps.is_empty() {
        match arguments.sweep {
            Some(Sweep::Concurrency) => vec![1.0, 4.0, 16.0, 64.0, 128.0],
            Some(Sweep::Rate) => vec![250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0],
            None => Vec::new(),
        }
    } else {
        arguments.steps.clone()
    };
    let (clients, rates) = match (arguments.sweep, mode) {
        (Some(Sweep::Concurrency), _) => (
            steps.iter().map(|step| *step as usize).collect(),
            Vec::new(),
        ),
        (Some(Sweep::Rate), _) => (vec![arguments.clients], steps),
        (None, Mode::Closed) => (vec![arguments.clients], Vec::new()),
        (None, Mode::Open) => (vec![arguments.clients], vec![arguments.rate]),
    };
    if clients.contains(&0) {
        return Err("clients must be at least 1".to_owned());
    }
    if rates.iter().any(|rate| !(rate.is_finite() && *rate > 0.0)) {
        return Err("rates must be positive".to_owned());
    }
    let plan = RunPlan {
        target: target(&arguments.server)?,
        scenarios: arguments.scenarios,
        mode,
        clients,
        rates,
        warmup: arguments.warmup,
        duration: arguments.duration,
        timeout: arguments.server.timeout,
        seed: arguments.seed,
    };
    let result = run(&plan).await?;
    write_outputs(&result, &arguments.out)?;
    let _ = write!(stdout, "{}", crate::report::markdown_table(&result));
    let _ = writeln!(stdout, "\nResults in {}", arguments.out.display());
    let skipped = result
        .scenarios
        .iter()
        .filter(|scenario| scenario.skipped.is_some())
        .count();
    Ok(if skipped > 0 && !arguments.allow_skipped {
        eprintln!(
            "ember-load: {skipped} scenario(s) skipped (see above); --allow-skipped to exit 0"
        );
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
