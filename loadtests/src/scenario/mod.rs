//! The scenarios: what each times, and the check each makes first. Every scenario sends one
//! request and inspects the answer (status, resourceType, the expected id or entries) before
//! timing anything: a server that answers wrongly, or not at all (501), is refused with the
//! reason rather than timed, since fast wrong answers are not a result.

mod check;
mod crud;
mod rest;
mod search;
mod setup;
mod transaction;

use std::sync::Arc;

use crate::client::Call;
use crate::runner::{Script, ScriptFactory};

pub(crate) use setup::Setup;

/// Why a scenario was not timed.
pub(crate) type Refusal = String;

/// Every scenario, in the order `all` runs them.
pub(crate) const SCENARIOS: &[&str] = &[
    "read",
    "vread",
    "create",
    "update",
    "delete",
    "history",
    "search-string",
    "search-token",
    "search-date",
    "search-patient-code",
    "search-sort",
    "search-include",
    "search-revinclude",
    "search-chain",
    "search-chain2",
    "search-has",
    "transaction",
    "crud",
];

/// Scenario names with the groups `all`, `rest` (read to history) and `search` expanded.
///
/// # Errors
/// An unknown name.
pub(crate) fn expand(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut expanded = Vec::new();
    for name in names {
        let group: Vec<&'static str> = match name.as_str() {
            "all" => SCENARIOS.to_vec(),
            "rest" => SCENARIOS[..6].to_vec(),
            "search" => SCENARIOS
                .iter()
                .copied()
                .filter(|scenario| scenario.starts_with("search-"))
                .collect(),
            other => match SCENARIOS.iter().find(|scenario| **scenario == other) {
                Some(scenario) => vec![*scenario],
                None => {
                    return Err(format!(
                        "unknown scenario {other:?}; known: all, rest, search, {}",
                        SCENARIOS.join(", ")
                    ))
                }
            },
        };
        for scenario in group {
            if !expanded.contains(&scenario) {
                expanded.push(scenario);
            }
        }
    }
    Ok(expanded)
}

/// Seeds what `scenario` needs, checks one answer, and returns the workers' scripts.
pub(crate) async fn prepare(scenario: &str, setup: &mut Setup) -> Result<ScriptFactory, Refusal> {
    match scenario {
        "read" => rest::read(setup).await,
        "vread" => rest::vread(setup).await,
        "create" => rest::create(setup).await,
        "update" => rest::update(setup).await,
        "delete" => rest::delete(setup).await,
        "history" => rest::history(setup).await,
        "transaction" => transaction::prepare(setup).await,
        "crud" => crud::prepare(setup).await,
        search_shape => search::prepare(search_shape, setup).await,
    }
}

/// Goes round a shared list of calls; worker `index` of `workers` starts at its own share
/// of the list, so workers do not all ask for the same resource at once.
struct RoundRobin {
    calls: Arc<[Call]>,
    position: usize,
}

impl Script for RoundRobin {
    fn next_call(&mut self) -> Call {
        let call = self.calls[self.position].clone();
        self.position = (self.position + 1) % self.calls.len();
        call
    }
}

fn round_robin(calls: Vec<Call>) -> ScriptFactory {
    let calls: Arc<[Call]> = calls.into();
    Box::new(move |index, workers| {
        Box::new(RoundRobin {
            calls: Arc::clone(&calls),
            position: index * calls.len() / workers.max(1) % calls.len(),
        })
    })
}
