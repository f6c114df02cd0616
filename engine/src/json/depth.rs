//! A nesting-depth guard that runs before the parser, because sonic-rs parses `Value`s
//! recursively without a depth limit: about 300 nested arrays overflow a thread's stack and
//! abort the whole process, which no error handling can catch.
// PERF: hot path (every body); see benches/benches/json_parse.rs.

/// Deeper than any R4 resource nests (contained resources and Questionnaire items included),
/// and far below the depth at which the parser overflows a 2 MiB stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// True when `json` opens more than `MAX_DEPTH` arrays or objects inside one another.
///
/// Brackets inside strings do not count. Invalid JSON may pass; the parser rejects it.
pub(crate) fn nests_too_deep(json: &[u8]) -> bool {
    // A body with fewer opening brackets than the limit cannot exceed it; counting bytes
    // vectorises, so small resources skip the byte-by-byte walk below.
    let openings = json
        .iter()
        .filter(|&&byte| byte == b'[' || byte == b'{')
        .count();
    if openings <= MAX_DEPTH {
        return false;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_limit_passes() {
        assert!(!nests_too_deep(nested(MAX_DEPTH).as_bytes()));
    }

    #[test]
    fn nesting_past_the_limit_is_caught() {
        assert!(nests_too_deep(nested(MAX_DEPTH + 1).as_bytes()));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let body = format!(r#"{{"text":"{}\"{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(!nests_too_deep(body.as_bytes()));
    }

    #[test]
    fn many_sibling_arrays_are_not_deep() {
        let body = format!("[{}[]]", "[],".repeat(1000));
        assert!(!nests_too_deep(body.as_bytes()));
    }
}
