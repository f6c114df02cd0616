//! The JSON "ingest" step Ember performs per write, implemented once per candidate parser so the benchmark and the precision tests exercise the same code.
// PERF: hot path comparison behind docs/adr/0001-json-parser.md
//
// Ingest = parse the request body, set `id` and `meta.versionId` / `meta.lastUpdated` on
// the top-level object (keeping any other `meta` fields), serialise compactly to the bytes
// that would be stored. Each function does exactly that and nothing more.

use std::error::Error;

/// Error type shared by the ingest functions; the benchmark only needs "did it work".
pub type IngestError = Box<dyn Error + Send + Sync>;

/// Server-assigned values written into every stored resource.
#[derive(Debug, Clone, Copy)]
pub struct Assigned<'a> {
    pub id: &'a str,
    pub version_id: &'a str,
    pub last_updated: &'a str,
}

/// A fixed assignment so every run serialises the same bytes.
pub const ASSIGNED: Assigned<'static> = Assigned {
    id: "0b7c8e2a-4f6d-4e0a-9a4c-2f1d3e5b7a90",
    version_id: "1",
    last_updated: "2026-11-23T10:15:30.123Z",
};

/// One benchmark payload: an unmodified example from the FHIR R4 examples package.
#[derive(Debug, Clone, Copy)]
pub struct Payload {
    /// Short name used in benchmark ids.
    pub name: &'static str,
    /// File under `benches/data/`.
    pub file: &'static str,
    pub bytes: &'static [u8],
}

/// The three payloads, small to large. See `benches/data/README.md` for their source.
pub const PAYLOADS: [Payload; 3] = [
    Payload {
        name: "patient_1k",
        file: "Patient-glossy.json",
        bytes: include_bytes!("../data/Patient-glossy.json"),
    },
    Payload {
        name: "bundle_5k",
        file: "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json",
        bytes: include_bytes!("../data/Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json"),
    },
    Payload {
        name: "bundle_66k",
        file: "Bundle-lri-example.json",
        bytes: include_bytes!("../data/Bundle-lri-example.json"),
    },
];

fn not_an_object() -> IngestError {
    "request body is not a JSON object".into()
}

/// simd-json, borrowed DOM (`to_borrowed_value`) over a mutable copy of the body.
///
/// The copy is part of the work: simd-json unescapes strings in place, so it needs
/// `&mut [u8]`, and the caller's body must stay intact (e.g. for error reports).
pub fn ingest_simd_borrowed(body: &[u8], a: &Assigned<'_>) -> Result<Vec<u8>, IngestError> {
    use simd_json::prelude::*;
    use simd_json::BorrowedValue;

    let mut buf = body.to_vec();
    let mut v = simd_json::to_borrowed_value(&mut buf)?;
    let obj = v.as_object_mut().ok_or_else(not_an_object)?;
    obj.insert("id".into(), BorrowedValue::from(a.id));
    match obj.get_mut("meta").and_then(|m| m.as_object_mut()) {
        Some(meta) => {
            meta.insert("versionId".into(), BorrowedValue::from(a.version_id));
            meta.insert("lastUpdated".into(), BorrowedValue::from(a.last_updated));
        }
        None => {
            let mut meta = simd_json::borrowed::Object::with_capacity_and_hasher(
                2,
                simd_json::ObjectHasher::default(),
            );
            meta.insert("versionId".into(), BorrowedValue::from(a.version_id));
            meta.insert("lastUpdated".into(), BorrowedValue::from(a.last_updated));
            obj.insert("meta".into(), BorrowedValue::from(meta));
        }
    }
    let mut out = Vec::with_capacity(body.len() + 128);
    v.write(&mut out)?;
    Ok(out)
}

/// simd-json tape (`to_tape`): no DOM is built; the tape is streamed back out with the
/// assigned fields spliced in (see [`write_spliced`]), which is the cheapest shape an
/// "ingest" can take on simd-json.
pub fn ingest_simd_tape(body: &[u8], a: &Assigned<'_>) -> Result<Vec<u8>, IngestError> {
    use simd_json::prelude::*;

    let mut buf = body.to_vec();
    let tape = simd_json::to_tape(&mut buf)?;
    let root = tape.as_value();
    let obj = root.as_object().ok_or_else(not_an_object)?;
    let mut out = Vec::with_capacity(body.len() + 128);
    write_resource(
        &mut out,
        obj.iter(),
        a,
        |out, v| Ok(v.write(out)?),
        |out, meta, a| match meta.as_object() {
            Some(m) => write_meta(out, m.iter(), a, |out, v| Ok(v.write(out)?)),
            None => Err("meta is not a JSON object".into()),
        },
    )?;
    Ok(out)
}

/// Writes a resource object from `pairs` in their original order, with `id` and `meta`
/// replaced in place (or appended if absent). Values are written by `write_value`;
/// an existing `meta` is handed to `write_meta_value`.
fn write_resource<K: AsRef<str>, V>(
    out: &mut Vec<u8>,
    pairs: impl Iterator<Item = (K, V)>,
    a: &Assigned<'_>,
    write_value: impl Fn(&mut Vec<u8>, V) -> Result<(), IngestError>,
    write_meta_value: impl Fn(&mut Vec<u8>, V, &Assigned<'_>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    write_spliced(out, pairs, &["id", "meta"], |out, field, v| {
        match (field, v) {
            (Some(0), _) => {
                write_json_str(out, a.id);
                Ok(())
            }
            (Some(_), Some(meta)) => write_meta_value(out, meta, a),
            (Some(_), None) => write_meta(out, std::iter::empty::<(&str, V)>(), a, |_, _| Ok(())),
            (None, Some(v)) => write_value(out, v),
            (None, None) => unreachable!("write_spliced passes a value for unlisted keys"),
        }
    })
}

/// Writes a `meta` object: existing fields kept in order, `versionId` and `lastUpdated`
/// replaced in place or appended.
fn write_meta<K: AsRef<str>, V>(
    out: &mut Vec<u8>,
    pairs: impl Iterator<Item = (K, V)>,
    a: &Assigned<'_>,
    write_value: impl Fn(&mut Vec<u8>, V) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    write_spliced(
        out,
        pairs,
        &["versionId", "lastUpdated"],
        |out, field, v| {
            match (field, v) {
                (Some(0), _) => write_json_str(out, a.version_id),
                (Some(_), _) => write_json_str(out, a.last_updated),
                (None, Some(v)) => return write_value(out, v),
                (None, None) => unreachable!("write_spliced passes a value for unlisted keys"),
            }
            Ok(())
        },
    )
}

/// Writes `{...}` from `pairs` in order. For a key listed in `fields` (index `i`),
/// `emit(out, Some(i), Some(value))` writes the value; listed keys that never occur are
/// appended at the end via `emit(out, Some(i), None)`; any other key's value goes to
/// `emit(out, None, Some(value))`.
fn write_spliced<K: AsRef<str>, V>(
    out: &mut Vec<u8>,
    pairs: impl Iterator<Item = (K, V)>,
    fields: &[&str],
    mut emit: impl FnMut(&mut Vec<u8>, Option<usize>, Option<V>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let mut seen = 0u32;
    let mut first = true;
    out.push(b'{');
    for (k, v) in pairs {
        let k = k.as_ref();
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(out, k);
        out.push(b':');
        let field = fields.iter().position(|f| *f == k);
        if let Some(i) = field {
            seen |= 1 << i;
        }
        emit(out, field, Some(v))?;
    }
    for (i, f) in fields.iter().enumerate() {
        if seen & (1 << i) == 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_str(out, f);
            out.push(b':');
            emit(out, Some(i), None)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// JSON string escaping as simd-json's own writer does it (only `"`, `\` and control
/// characters are escaped; non-ASCII is written as UTF-8).
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x00..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// sonic-rs `Value` (with the workspace's `arbitrary_precision`: numbers keep their text),
/// mutated in place and serialised: the lead's tentative design.
///
/// NOTE: in sonic-rs 0.5 any mutable access to a parsed object (`insert`, `get_mut`)
/// turns it into an `AHashMap`, so key order of the mutated objects (here: the resource
/// and its `meta`) is lost, and differs between runs. See the precision tests.
pub fn ingest_sonic_mutate(body: &[u8], a: &Assigned<'_>) -> Result<Vec<u8>, IngestError> {
    use sonic_rs::{JsonValueMutTrait, Object, Value};

    let mut v: Value = sonic_rs::from_slice(body)?;
    let obj = v.as_object_mut().ok_or_else(not_an_object)?;
    obj.insert("id", a.id);
    match obj.get_mut(&"meta").and_then(|m| m.as_object_mut()) {
        Some(meta) => {
            meta.insert("versionId", a.version_id);
            meta.insert("lastUpdated", a.last_updated);
        }
        None => {
            let mut meta = Object::new();
            meta.insert("versionId", a.version_id);
            meta.insert("lastUpdated", a.last_updated);
            obj.insert("meta", meta);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 128);
    sonic_rs::to_writer(&mut out, &v)?;
    Ok(out)
}

/// sonic-rs `Value` (arbitrary_precision), never mutated: the parsed resource is written
/// back out pair by pair with `id`/`meta` spliced in (see [`write_spliced`]), so the
/// original key order survives and numbers keep their text.
pub fn ingest_sonic_splice(body: &[u8], a: &Assigned<'_>) -> Result<Vec<u8>, IngestError> {
    use sonic_rs::{JsonContainerTrait, Value};

    let v: Value = sonic_rs::from_slice(body)?;
    let obj = v.as_object().ok_or_else(not_an_object)?;
    let mut out = Vec::with_capacity(body.len() + 128);
    write_resource(
        &mut out,
        obj.iter(),
        a,
        |out, v| Ok(sonic_rs::to_writer(out, v)?),
        |out, meta, a| match meta.as_object() {
            Some(m) => write_meta(out, m.iter(), a, |out, v| Ok(sonic_rs::to_writer(out, v)?)),
            None => Err("meta is not a JSON object".into()),
        },
    )?;
    Ok(out)
}

/// serde_json `Value` with `arbitrary_precision` + `preserve_order` (baseline only).
#[cfg(feature = "serde-json-baseline")]
pub fn ingest_serde_json(body: &[u8], a: &Assigned<'_>) -> Result<Vec<u8>, IngestError> {
    use serde_json::{Map, Value};

    let mut v: Value = serde_json::from_slice(body)?;
    let obj = v.as_object_mut().ok_or_else(not_an_object)?;
    obj.insert("id".to_owned(), Value::from(a.id));
    match obj.get_mut("meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.insert("versionId".to_owned(), Value::from(a.version_id));
            meta.insert("lastUpdated".to_owned(), Value::from(a.last_updated));
        }
        None => {
            let mut meta = Map::new();
            meta.insert("versionId".to_owned(), Value::from(a.version_id));
            meta.insert("lastUpdated".to_owned(), Value::from(a.last_updated));
            obj.insert("meta".to_owned(), Value::Object(meta));
        }
    }
    let mut out = Vec::with_capacity(body.len() + 128);
    serde_json::to_writer(&mut out, &v)?;
    Ok(out)
}

/// Every ingest path compiled into this build, with a label (used by the tests).
pub type IngestFn = fn(&[u8], &Assigned<'_>) -> Result<Vec<u8>, IngestError>;

/// The ingest paths in this build: `(label, function)`.
pub fn ingest_paths() -> Vec<(&'static str, IngestFn)> {
    #[allow(unused_mut)]
    let mut paths: Vec<(&'static str, IngestFn)> = vec![
        ("simd_borrowed", ingest_simd_borrowed),
        ("simd_tape", ingest_simd_tape),
        ("sonic_mutate", ingest_sonic_mutate),
        ("sonic_splice", ingest_sonic_splice),
    ];
    #[cfg(feature = "serde-json-baseline")]
    paths.push(("serde_json", ingest_serde_json));
    paths
}
