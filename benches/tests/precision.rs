//! Fidelity of each ingest path (decimals, key order, strings, duplicates, invalid input): the correctness half of the parser comparison.
// PERF: hot path comparison behind docs/adr/0001-json-parser.md
//
// Tests named `*_keeps_*` state a requirement Ember relies on. Tests named after a loss
// (`*_rewrites_*`, `*_loses_*`) pin down observed behaviour the ADR cites; if one of those
// starts failing, the library changed and the ADR needs another look.
//
// Run with the baseline too: cargo test -p ember-benches --features serde-json-baseline

use ember_benches::{ingest_paths, IngestFn, ASSIGNED, PAYLOADS};

const ID: &str = r#""id":"0b7c8e2a-4f6d-4e0a-9a4c-2f1d3e5b7a90""#;
const META: &str = r#""meta":{"versionId":"1","lastUpdated":"2026-11-23T10:15:30.123Z"}"#;

fn path(label: &str) -> IngestFn {
    ingest_paths()
        .into_iter()
        .find(|(l, _)| *l == label)
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("no ingest path {label}"))
}

fn ingest(label: &str, input: &str) -> String {
    let out = path(label)(input.as_bytes(), &ASSIGNED)
        .unwrap_or_else(|e| panic!("{label} rejected {input}: {e}"));
    String::from_utf8(out).expect("ingest output is UTF-8")
}

/// Paths that must keep number text, key order and (for this test) string content.
fn order_preserving_paths() -> Vec<&'static str> {
    let mut v = vec!["simd_tape", "sonic_splice"];
    if cfg!(feature = "serde-json-baseline") {
        v.push("serde_json");
    }
    v
}

fn many_keys_resource() -> (String, String) {
    let mut fields = String::new();
    for i in (0..40).rev() {
        fields.push_str(&format!(r#","k{i:02}":{i}"#));
    }
    let input = format!(r#"{{"resourceType":"Basic"{fields}}}"#);
    let expected = format!(r#"{{"resourceType":"Basic"{fields},{ID},{META}}}"#);
    (input, expected)
}

// ---- numbers -------------------------------------------------------------------------

#[test]
fn sonic_keeps_decimal_text() {
    let cases = [
        "1.50",
        "1e2",
        "1E+2",
        "-0",
        "0.10",
        "-1.0e-7",
        "12345678901234567890123",
        "18446744073709551616",
        "0.000000000000000000000000000001",
    ];
    for label in ["sonic_splice", "sonic_mutate"] {
        for n in cases {
            let input =
                format!(r#"{{"resourceType":"Observation","valueQuantity":{{"value":{n}}}}}"#);
            let out = ingest(label, &input);
            assert!(
                out.contains(&format!(r#""valueQuantity":{{"value":{n}}}"#)),
                "{label}: {n} became {out}"
            );
        }
    }
}

#[test]
fn sonic_splice_ingest_exact_output_for_the_issue_example() {
    let out = ingest(
        "sonic_splice",
        r#"{"resourceType":"Observation","valueQuantity":{"value":1.50}}"#,
    );
    assert_eq!(
        out,
        format!(r#"{{"resourceType":"Observation","valueQuantity":{{"value":1.50}},{ID},{META}}}"#)
    );
}

#[test]
fn simd_json_rewrites_decimals() {
    // simd-json has no raw-number mode: numbers become f64/i64/u64 and are written back
    // with ryu. `1.50` loses its trailing zero and `1e2` turns into `100.0`, silently.
    for label in ["simd_borrowed", "simd_tape"] {
        for (sent, stored) in [
            ("1.50", "1.5"),
            ("1e2", "100.0"),
            ("1E+2", "100.0"),
            ("0.10", "0.1"),
        ] {
            let input =
                format!(r#"{{"resourceType":"Observation","valueQuantity":{{"value":{sent}}}}}"#);
            let out = ingest(label, &input);
            assert!(
                out.contains(&format!(r#""valueQuantity":{{"value":{stored}}}"#)),
                "{label}: {sent} became {out}"
            );
        }
    }
}

#[test]
fn simd_json_rejects_integers_beyond_64_bits() {
    for label in ["simd_borrowed", "simd_tape"] {
        let r = path(label)(
            br#"{"resourceType":"Basic","n":12345678901234567890123}"#,
            &ASSIGNED,
        );
        assert!(r.is_err(), "{label} accepted a >64-bit integer");
    }
}

#[cfg(feature = "serde-json-baseline")]
#[test]
fn serde_json_keeps_decimals_but_normalises_exponents() {
    let out = ingest(
        "serde_json",
        r#"{"resourceType":"Observation","valueQuantity":{"value":1.50}}"#,
    );
    assert!(out.contains(r#"{"value":1.50}"#), "{out}");
    let out = ingest(
        "serde_json",
        r#"{"resourceType":"Observation","valueQuantity":{"value":1e2}}"#,
    );
    assert!(out.contains(r#"{"value":1e+2}"#), "{out}");
}

// ---- key order -----------------------------------------------------------------------

#[test]
fn order_preserving_paths_keep_key_order_and_replace_in_place() {
    let input = r#"{"resourceType":"Patient","zeta":1,"alpha":2,"id":"old","mid":3,"meta":{"profile":["p"],"versionId":"9"}}"#;
    let expected = format!(
        r#"{{"resourceType":"Patient","zeta":1,"alpha":2,{ID},"mid":3,"meta":{{"profile":["p"],"versionId":"1","lastUpdated":"2026-11-23T10:15:30.123Z"}}}}"#
    );
    let (many_in, many_expected) = many_keys_resource();
    for label in order_preserving_paths() {
        assert_eq!(ingest(label, input), expected, "{label}");
        assert_eq!(ingest(label, &many_in), many_expected, "{label} (40 keys)");
    }
}

#[test]
fn simd_borrowed_keeps_order_up_to_32_keys_only() {
    let input = r#"{"resourceType":"Patient","zeta":1,"alpha":2,"id":"old","mid":3}"#;
    assert_eq!(
        ingest("simd_borrowed", input),
        format!(r#"{{"resourceType":"Patient","zeta":1,"alpha":2,{ID},"mid":3,{META}}}"#)
    );
    // halfbrown switches from a Vec to a hash map above 32 entries.
    let (many_in, many_expected) = many_keys_resource();
    assert_ne!(ingest("simd_borrowed", &many_in), many_expected);
}

#[test]
fn sonic_mutate_loses_key_order_and_is_not_deterministic() {
    // Any mutable access to a parsed sonic-rs object converts it to an AHashMap with a
    // randomly seeded hasher: the stored key order is neither the client's nor stable.
    let (many_in, many_expected) = many_keys_resource();
    let first = ingest("sonic_mutate", &many_in);
    assert_ne!(first, many_expected);
    let again: Vec<String> = (0..4).map(|_| ingest("sonic_mutate", &many_in)).collect();
    assert!(
        again.iter().any(|o| *o != first),
        "expected differing key orders between ingests of the same body"
    );
    // Untouched nested objects keep their order; only mutated ones are reshuffled.
    let out = ingest(
        "sonic_mutate",
        r#"{"resourceType":"Observation","code":{"text":"t","coding":[]},"valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org"}}"#,
    );
    assert!(out.contains(r#""code":{"text":"t","coding":[]}"#), "{out}");
    assert!(
        out.contains(
            r#""valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org"}"#
        ),
        "{out}"
    );
}

// ---- strings -------------------------------------------------------------------------

#[test]
fn strings_keep_their_value_and_are_reescaped_canonically() {
    // Every path decodes escapes and writes the same canonical form back: non-ASCII and
    // `/` as UTF-8 text, `\n` `\t` `\"` `\\` short escapes, other controls as \u00XX.
    // The *value* is exact; the *bytes* of an escape may differ from what was sent.
    let input = r#"{"resourceType":"Patient","name":[{"family":"du Marché","given":["Bénédicte"]}],"text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a\nb\t\u00e9 \ud83d\ude00 \/ \u2028 \u0001 \\ \"q\"</div>"}}"#;
    let expected = format!(
        "{{\"resourceType\":\"Patient\",\"name\":[{{\"family\":\"du Marché\",\"given\":[\"Bénédicte\"]}}],\"text\":{{\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">a\\nb\\té \u{1F600} / \u{2028} \\u0001 \\\\ \\\"q\\\"</div>\"}},{ID},{META}}}"
    );
    for label in order_preserving_paths()
        .into_iter()
        .chain(["simd_borrowed"])
    {
        assert_eq!(ingest(label, input), expected, "{label}");
    }
    // sonic_mutate: same string bytes, different key order.
    let out = ingest("sonic_mutate", input);
    assert!(out.contains("\"family\":\"du Marché\""), "{out}");
    assert!(
        out.contains("a\\nb\\té \u{1F600} / \u{2028} \\u0001 \\\\ \\\"q\\\""),
        "{out}"
    );
}

// ---- duplicates and invalid input ----------------------------------------------------

#[test]
fn duplicate_keys_pass_through_or_collapse_silently() {
    let input = r#"{"resourceType":"Basic","a":1,"a":2}"#;
    // Kept as sent (invalid FHIR written to storage unless validation rejects it):
    for label in ["simd_borrowed", "simd_tape", "sonic_splice"] {
        assert!(ingest(label, input).contains(r#""a":1,"a":2"#), "{label}");
    }
    // Last one wins, silently:
    let out = ingest("sonic_mutate", input);
    assert!(
        out.contains(r#""a":2"#) && !out.contains(r#""a":1"#),
        "{out}"
    );
    #[cfg(feature = "serde-json-baseline")]
    assert!(ingest("serde_json", input).contains(r#""resourceType":"Basic","a":2,"#));
}

#[test]
fn invalid_json_is_rejected_by_every_path() {
    let bad: [&[u8]; 7] = [
        br#"{"resourceType":"Basic","x":"\ud800"}"#,
        br#"{"resourceType":"Basic","x":1.}"#,
        br#"{"resourceType":"Basic","x":01}"#,
        br#"{"resourceType":"Basic","x":NaN}"#,
        b"{\"resourceType\":\"Basic\",\"x\":\"\xff\"}",
        br#"{"resourceType":"Basic"} trailing"#,
        br#"[{"resourceType":"Basic"}]"#,
    ];
    for (label, f) in ingest_paths() {
        for b in bad {
            assert!(
                f(b, &ASSIGNED).is_err(),
                "{label} accepted {}",
                String::from_utf8_lossy(b)
            );
        }
    }
}

// ---- the benchmark payloads ----------------------------------------------------------

#[test]
fn benchmark_payloads_ingest_to_the_same_bytes_on_order_preserving_paths() {
    for p in PAYLOADS {
        let reference = path("sonic_splice")(p.bytes, &ASSIGNED).expect("sonic_splice");
        // These payloads have no object wider than 32 keys and no number that f64
        // formatting changes, so simd_borrowed agrees on them too.
        for label in order_preserving_paths()
            .into_iter()
            .chain(["simd_borrowed"])
        {
            let out = path(label)(p.bytes, &ASSIGNED).expect(label);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&reference),
                "{label} on {}",
                p.file
            );
        }
        let s = String::from_utf8(reference).expect("UTF-8");
        assert!(s.starts_with(r#"{"resourceType":""#), "{}", p.file);
        assert!(
            s.contains(ID) && s.contains(r#""versionId":"1""#),
            "{}",
            p.file
        );
        assert!(
            s.len() < p.bytes.len(),
            "{}: output should be compact",
            p.file
        );
    }
}
