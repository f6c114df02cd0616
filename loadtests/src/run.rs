//! `run` and `smoke`: each scenario prepared and checked once, then timed step by step
//! (a concurrency sweep, a rate sweep, or a single step), into a [`RunResult`].

use std::sync::Arc;
use std::time::Duration;

use crate::report::{Metadata, Mode, RunResult, ScenarioResult};
use crate::runner::{run_step, StepSpec};
use crate::scenario::{self, Setup};
use crate::target::Target;

/// Everything a run needs; the CLI builds it from flags.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub target: Target,
    pub scenarios: Vec<String>,
    pub mode: Mode,
    /// Closed loop: the clients of each step. Open loop: the connections (one value).
    pub clients: Vec<usize>,
    /// Open loop: the rate of each step.
    pub rates: Vec<f64>,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    /// Seeds the data scenarios create, so two runs send the same bodies.
    pub seed: u64,
}

impl RunPlan {
    fn steps(&self) -> Vec<StepSpec> {
        let step = |clients, rate| StepSpec {
            clients,
            rate,
            warmup: self.warmup,
            duration: self.duration,
        };
        match self.mode {
            Mode::Closed => self
                .clients
                .iter()
                .map(|clients| step(*clients, None))
                .collect(),
            Mode::Open => {
                let connections = self.clients.iter().copied().max().unwrap_or(1);
                self.rates
                    .iter()
                    .map(|rate| step(connections, Some(*rate)))
                    .collect()
            }
        }
    }
}

/// Runs every scenario of `plan`. A scenario the server answers wrongly is recorded as
/// skipped, with the reason, and not timed.
///
/// # Errors
/// An unknown scenario name.
pub async fn run(plan: &RunPlan) -> Result<RunResult, String> {
    let names = scenario::expand(&plan.scenarios)?;
    let target = Arc::new(plan.target.clone());
    let steps = plan.steps();
    let max_clients = steps.iter().map(|step| step.clients).max().unwrap_or(1);
    let mut setup = Setup::new(Arc::clone(&target), plan.timeout, max_clients, plan.seed);
    let metadata = Metadata::collect(&target.base_url, server_software(&mut setup).await);
    let mut scenarios = Vec::with_capacity(names.len());
    for name in names {
        eprintln!("{name}: preparing and checking one request");
        let factory = match scenario::prepare(name, &mut setup).await {
            Ok(factory) => factory,
            Err(reason) => {
                eprintln!("{name}: skipped: {reason}");
                scenarios.push(ScenarioResult {
                    name: name.to_owned(),
                    mode: plan.mode,
                    skipped: Some(reason),
                    steps: Vec::new(),
                });
                continue;
            }
        };
        let mut results = Vec::with_capacity(steps.len());
        for step in &steps {
            let label = match step.rate {
                Some(rate) => format!("{name} open {rate}/s c={}", step.clients),
                None => format!("{name} closed c={}", step.clients),
            };
            let result = run_step(&target, plan.timeout, &factory, *step, &label).await;
            eprintln!(
                "{label}: {:.0}/s p50 {:.2} ms p99 {:.2} ms max {:.2} ms, {} errors",
                result.throughput,
                result.latency_ms.p50,
                result.latency_ms.p99,
                result.latency_ms.max,
                result.error_count()
            );
            results.push(result);
        }
        scenarios.push(ScenarioResult {
            name: name.to_owned(),
            mode: plan.mode,
            skipped: None,
            steps: results,
        });
    }
    Ok(RunResult {
        metadata,
        scenarios,
    })
}

/// `software.name version` from the server's CapabilityStatement, for the record.
async fn server_software(setup: &mut Setup) -> Option<String> {
    let capabilities = setup.get_json("metadata").await.ok()?;
    let software = capabilities.get("software")?;
    let name = software.get("name")?.as_str()?;
    Some(
        match software.get("version").and_then(serde_json::Value::as_str) {
            Some(version) => format!("{name} {version}"),
            None => name.to_owned(),
        },
    )
}

/// The smoke run: read, create and the CRUD cycle for half a second each at two clients.
/// Checks that the tool and the server work together, not how fast.
///
/// # Errors
/// A scenario was skipped or a request failed; the message says which.
pub async fn smoke(target: Target) -> Result<RunResult, String> {
    let plan = RunPlan {
        target,
        scenarios: vec!["read".to_owned(), "create".to_owned(), "crud".to_owned()],
        mode: Mode::Closed,
        clients: vec![2],
        rates: Vec::new(),
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(500),
        timeout: Duration::from_secs(10),
        seed: 1,
    };
    let result = run(&plan).await?;
    let mut problems = Vec::new();
    for scenario in &result.scenarios {
        if let Some(reason) = &scenario.skipped {
            problems.push(format!("{} skipped: {reason}", scenario.name));
        }
        for step in &scenario.steps {
            if step.error_count() > 0 || step.requests == 0 {
                problems.push(format!(
                    "{}: {} requests, errors {:?}",
                    scenario.name, step.requests, step.errors
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(result)
    } else {
        Err(problems.join("; "))
    }
}
