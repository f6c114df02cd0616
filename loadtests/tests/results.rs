//! Result files: the JSON round-trips, `compare` divides B by A step by step, and the
//! Markdown table and SVG chart are well-formed.

use std::collections::BTreeMap;

use loadtests::report::{
    compare, latency_chart, markdown_table, read_result, render_comparison, write_outputs,
    LatencySummary, Machine, Metadata, RunResult, ScenarioResult, StepResult,
};
use loadtests::Mode;

fn step(clients: usize, throughput: f64, p50: f64) -> StepResult {
    StepResult {
        clients,
        rate: None,
        requests: (throughput * 20.0) as u64,
        duration_s: 20.0,
        throughput,
        latency_ms: LatencySummary {
            p50,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
            p999: p50 * 4.0,
            max: p50 * 10.0,
            mean: p50 * 1.1,
        },
        errors: BTreeMap::new(),
        unsent: 0,
        latency_from_release_ms: None,
        mean_send_lag_ms: None,
    }
}

fn result(base_url: &str, steps: Vec<StepResult>) -> RunResult {
    RunResult {
        metadata: Metadata {
            date: "2026-11-23T12:00:00Z".to_owned(),
            tool: "ember-load".to_owned(),
            tool_version: "0.1.0".to_owned(),
            git_commit: Some("abc".to_owned()),
            base_url: base_url.to_owned(),
            command: vec!["ember-load".to_owned(), "run".to_owned()],
            server_software: None,
            machine: Machine {
                cores: 2,
                ram_bytes: Some(1 << 34),
                kernel: Some("6.1".to_owned()),
            },
        },
        scenarios: vec![
            ScenarioResult {
                name: "read".to_owned(),
                mode: Mode::Closed,
                skipped: None,
                steps,
            },
            ScenarioResult {
                name: "search-has".to_owned(),
                mode: Mode::Closed,
                skipped: Some("GET Patient?name=… answered 501 <not & supported>".to_owned()),
                steps: Vec::new(),
            },
        ],
    }
}

#[test]
fn a_result_file_reads_back_equal() {
    let mut original = result(
        "http://a/fhir",
        vec![step(1, 1000.0, 1.0), step(16, 9000.5, 1.75)],
    );
    original.scenarios[0].steps[1]
        .errors
        .insert("status 503".to_owned(), 7);
    original.scenarios[0].steps[1].rate = Some(2500.0);
    original.scenarios[0].steps[1].mean_send_lag_ms = Some(0.4);
    let directory = tempfile::tempdir().unwrap();
    write_outputs(&original, directory.path()).unwrap();
    assert_eq!(
        read_result(&directory.path().join("results.json")).unwrap(),
        original
    );
    assert!(directory.path().join("results.md").exists());
    assert!(directory.path().join("latency-read.svg").exists());
    assert!(
        !directory.path().join("latency-search-has.svg").exists(),
        "skipped: no chart"
    );
}

#[test]
fn compare_divides_b_by_a_for_the_steps_both_measured() {
    let a = result(
        "http://a/fhir",
        vec![step(1, 1000.0, 2.0), step(16, 4000.0, 4.0)],
    );
    let b = result(
        "http://b/fhir",
        vec![step(16, 8000.0, 1.0), step(64, 9000.0, 5.0)],
    );
    let rows = compare(&a, &b);
    assert_eq!(rows.len(), 1, "only 16 clients is in both: {rows:?}");
    assert_eq!(rows[0].scenario, "read");
    assert_eq!(rows[0].step, "16 clients");
    assert_eq!(rows[0].throughput_ratio, 2.0);
    assert_eq!(rows[0].p50_ratio, 0.25);
    assert_eq!(rows[0].p99_ratio, 0.25);
    let text = render_comparison(&a, &b, &rows);
    assert!(
        text.contains("| read | 16 clients | 2.00 | 0.25 | 0.25 | 0.25 |"),
        "{text}"
    );
}

#[test]
fn compare_shows_na_where_a_measured_zero() {
    let a = result("http://a/fhir", vec![step(1, 0.0, 0.0)]);
    let b = result("http://b/fhir", vec![step(1, 10.0, 1.0)]);
    let rows = compare(&a, &b);
    assert!(rows[0].throughput_ratio.is_nan());
    assert!(render_comparison(&a, &b, &rows).contains("| read | 1 clients | n/a |"));
}

#[test]
fn the_markdown_table_has_a_row_per_step_and_lists_skipped_scenarios() {
    let mut run = result(
        "http://a/fhir",
        vec![step(1, 1000.0, 1.0), step(4, 3000.0, 1.3)],
    );
    run.scenarios[0].steps[1]
        .errors
        .insert("timeout".to_owned(), 2);
    let table = markdown_table(&run);
    let rows: Vec<&str> = table.lines().filter(|line| line.starts_with('|')).collect();
    assert_eq!(rows.len(), 4, "header, rule, two steps:\n{table}");
    let columns = rows[0].matches('|').count();
    assert!(
        rows.iter().all(|row| row.matches('|').count() == columns),
        "{table}"
    );
    assert!(
        rows[3].contains("| 4 clients |") && rows[3].contains("2 timeout"),
        "{table}"
    );
    assert!(
        table.contains("- search-has: GET Patient?name=… answered 501"),
        "{table}"
    );
}

/// Checks that every element opened is closed in order, and that attributes are quoted:
/// enough to know a browser will parse the chart.
fn assert_well_formed_xml(text: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("an unclosed tag") + start;
        let tag = &rest[start + 1..end];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().unwrap().to_owned());
        }
        let text_between = &rest[end + 1..];
        let next = text_between.find('<').unwrap_or(text_between.len());
        assert!(
            !text_between[..next].contains('&')
                || text_between[..next].contains("&amp;")
                || text_between[..next].contains("&lt;")
        );
        rest = text_between;
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

#[test]
fn the_latency_chart_is_well_formed_svg_with_a_line_per_percentile() {
    let mut run = result(
        "http://a/fhir",
        vec![
            step(1, 1000.0, 1.0),
            step(4, 3000.0, 1.3),
            step(16, 5000.0, 2.9),
        ],
    );
    run.scenarios[0].name = "search <&> chart".to_owned();
    let svg = latency_chart(&run.scenarios[0]);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_well_formed_xml(&svg);
    assert_eq!(svg.matches("<polyline").count(), 4);
    assert!(svg.contains("search &lt;&amp;&gt; chart"));
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    // One step, and a scenario where every latency is zero, still draw.
    let single = latency_chart(&ScenarioResult {
        steps: vec![step(8, 0.0, 0.0)],
        ..run.scenarios[0].clone()
    });
    assert_well_formed_xml(&single);
    assert!(!single.contains("NaN"));
}
