//! The condition one search value puts on one index row, per parameter type, with the
//! prefix semantics of the spec.
//! Spec: https://hl7.org/fhir/R4/search.html#prefix

use engine::definitions::search_parameter_by_url;
use engine::index::DateRange;
use engine::search::{Modifier, ParamRef, Prefix, SearchValue, SystemMatch, TextQuery};
use time::OffsetDateTime;

use super::keys::{same_resource, ResourceKey};
use super::sql::{table_for, SqlBuilder};

/// The condition `value` puts on the index row aliased `row`.
pub(crate) fn condition(
    sql: &mut SqlBuilder,
    row: &str,
    modifier: Modifier,
    value: &SearchValue,
) -> String {
    match value {
        SearchValue::String(text) => match modifier {
            Modifier::Exact => format!("{row}.exact = {}", sql.bind(text.clone())),
            Modifier::Contains => format!(
                "{row}.folded LIKE {}",
                sql.bind(format!("%{}%", like_escape(text)))
            ),
            _ => starts_with(sql, &format!("{row}.folded"), text),
        },
        SearchValue::Token { system, code } => {
            let mut parts = Vec::new();
            if let Some(code) = code {
                parts.push(format!("{row}.code = {}", sql.bind(code.clone())));
            }
            match system {
                SystemMatch::Any => {}
                SystemMatch::Absent => parts.push(format!("{row}.system IS NULL")),
                SystemMatch::Is(system) => {
                    parts.push(format!("{row}.system = {}", sql.bind(system.clone())))
                }
            }
            if parts.is_empty() {
                "true".to_owned()
            } else {
                parts.join(" AND ")
            }
        }
        // search.html#token: ":text … the search functions as a normal string search", one
        // that matches from the start: here of any word of the text (`gluc` finds "Fasting
        // glucose", `ucose` finds nothing).
        SearchValue::TokenText(text) => {
            let escaped = like_escape(text);
            format!(
                "({row}.display LIKE {} OR {row}.display LIKE {})",
                sql.bind(format!("{escaped}%")),
                sql.bind(format!("% {escaped}%"))
            )
        }
        SearchValue::OfType {
            type_system,
            type_code,
            value,
        } => format!(
            "{row}.system = {} AND {row}.code = {}",
            sql.bind(type_system.clone()),
            sql.bind(format!("{type_code}|{value}"))
        ),
        SearchValue::Date { prefix, range } => {
            let low = sql.bind(range.low);
            let high = sql.bind(range.high);
            date_condition(
                &format!("{row}.low"),
                &format!("{row}.high"),
                *prefix,
                &low,
                &high,
            )
        }
        SearchValue::Number { prefix, decimal } => {
            let number = sql.bind(decimal.text.clone());
            let exponent = sql.bind(decimal.exponent);
            amount_condition(row, *prefix, &number, &exponent)
        }
        SearchValue::Quantity {
            prefix,
            decimal,
            system,
            code,
        } => {
            let number = sql.bind(decimal.text.clone());
            let exponent = sql.bind(decimal.exponent);
            let mut condition = amount_condition(row, *prefix, &number, &exponent);
            match (system, code) {
                (Some(system), Some(code)) => {
                    let _ = std::fmt::Write::write_fmt(
                        &mut condition,
                        format_args!(
                            " AND {row}.system = {} AND {row}.code = {}",
                            sql.bind(system.clone()),
                            sql.bind(code.clone())
                        ),
                    );
                }
                (None, Some(code)) => {
                    let code = sql.bind(code.clone());
                    condition.push_str(&format!(
                        " AND ({row}.code = {code} OR {row}.unit = {code})"
                    ));
                }
                (Some(system), None) => {
                    condition.push_str(&format!(" AND {row}.system = {}", sql.bind(system.clone())))
                }
                (None, None) => {}
            }
            condition
        }
        SearchValue::Reference { target_type, id } => {
            let id = sql.bind(id.clone());
            match target_type {
                Some(kind) => format!(
                    "{row}.target_id = {id} AND {row}.target_type = {}",
                    sql.bind(kind.as_str().to_owned())
                ),
                None => match modifier {
                    Modifier::Type(kind) => {
                        format!(
                            "{row}.target_id = {id} AND {row}.target_type = {}",
                            sql.bind(kind.as_str().to_owned())
                        )
                    }
                    _ => format!("{row}.target_id = {id}"),
                },
            }
        }
        SearchValue::Url { url, version } => {
            let mut condition = format!("{row}.url = {}", sql.bind(url.clone()));
            if let Some(version) = version {
                condition.push_str(&format!(
                    " AND {row}.version = {}",
                    sql.bind(version.clone())
                ));
            }
            condition
        }
        SearchValue::Identifier { system, value } => {
            let mut condition = format!("{row}.code = {}", sql.bind(value.clone()));
            if let Some(system) = system {
                condition.push_str(&format!(" AND {row}.system = {}", sql.bind(system.clone())));
            }
            condition
        }
        SearchValue::Uri(uri) => match modifier {
            // search.html#uri: ":above and :below … only apply to URLs, and not URNs such as
            // OIDs": a URN is matched exactly.
            Modifier::Above | Modifier::Below if uri.starts_with("urn:") => {
                format!("{row}.value = {}", sql.bind(uri.clone()))
            }
            // The stored URI is a prefix of the one searched: it is "above" it.
            Modifier::Above => format!("{} LIKE {row}.value || '%'", sql.bind(uri.clone())),
            Modifier::Below => format!(
                "{row}.value LIKE {}",
                sql.bind(format!("{}%", like_escape(uri)))
            ),
            _ => format!("{row}.value = {}", sql.bind(uri.clone())),
        },
        SearchValue::CanonicalUrl { url, version } => format!(
            "{row}.value = {} AND EXISTS (SELECT 1 FROM search_token v{row} \
             WHERE v{row}.tenant_key = {row}.tenant_key AND v{row}.resource_type = {row}.resource_type \
             AND v{row}.id = {row}.id AND v{row}.param = 'version' AND v{row}.code = {})",
            sql.bind(url.clone()),
            sql.bind(version.clone())
        ),
        SearchValue::FullText(query) => {
            format!("{row}.document @@ {}", text_query(sql, query))
        }
        // Composites are matched part by part in `composite`.
        SearchValue::Composite(_) => "false".to_owned(),
        SearchValue::Near {
            latitude,
            longitude,
            kilometres,
        } => near_condition(sql, row, *latitude, *longitude, *kilometres),
    }
}

/// The mean radius of the Earth (IUGG), in kilometres.
const EARTH_RADIUS_KILOMETRES: f64 = 6371.0088;

/// `near`: the latitude row `row` (part 0 of a Location's position, see
/// `engine::index::extract`) and the longitude row of the same position within `kilometres`
/// of the point, by the haversine great-circle distance on a sphere of the Earth's mean
/// radius (within 0.5% of WGS84's ellipsoid everywhere). The latitude band the distance
/// allows is the range read from the number index; the distance itself is tested on each
/// position in it, which also handles the poles and the antimeridian without special cases.
fn near_condition(
    sql: &mut SqlBuilder,
    row: &str,
    latitude: f64,
    longitude: f64,
    kilometres: f64,
) -> String {
    let band_degrees = (kilometres / EARTH_RADIUS_KILOMETRES).to_degrees();
    let south = sql.bind((latitude - band_degrees).max(-90.0));
    let north = sql.bind((latitude + band_degrees).min(90.0));
    let point_latitude = sql.bind(latitude);
    let point_longitude = sql.bind(longitude);
    let within = sql.bind(kilometres);
    let longitude_row = sql.alias("g");
    // `least(1, …)`: rounding can lift the haversine term a hair above 1 for antipodes,
    // outside asin's domain.
    format!(
        "{row}.composite_component = 0 AND {row}.value >= {south}::numeric AND {row}.value <= {north}::numeric \
         AND EXISTS (SELECT 1 FROM search_number {longitude_row} \
         WHERE {longitude_row}.tenant_key = {row}.tenant_key AND {longitude_row}.resource_type = {row}.resource_type \
         AND {longitude_row}.id = {row}.id AND {longitude_row}.param = {row}.param \
         AND {longitude_row}.composite_component = 1 AND {longitude_row}.composite_element = {row}.composite_element \
         AND 2 * {EARTH_RADIUS_KILOMETRES} * asin(least(1, sqrt(\
         power(sin(radians({row}.value::float8 - {point_latitude}) / 2), 2) \
         + cos(radians({point_latitude})) * cos(radians({row}.value::float8)) \
         * power(sin(radians({longitude_row}.value::float8 - {point_longitude}) / 2), 2)))) <= {within})"
    )
}

/// The spec's prefix table for ranges: the target is `[low, high]`, the search value
/// `[search_low, search_high]`, all inclusive.
///
/// `eq`, `ge` and `le` also carry a bound on one column that the rest implies (every stored
/// range has `low <= high`): alone, their `OR` leaves no range an index can scan, and the
/// planner read every value of the parameter (a birth year on a million resources: 0.8 s).
pub(crate) fn date_condition(
    low: &str,
    high: &str,
    prefix: Prefix,
    search_low: &str,
    search_high: &str,
) -> String {
    let contained = format!("({low} >= {search_low} AND {high} <= {search_high})");
    match prefix {
        Prefix::Eq => format!("({low} <= {search_high} AND {contained})"),
        Prefix::Ne => format!("NOT {contained}"),
        Prefix::Gt => format!("{high} > {search_high}"),
        Prefix::Lt => format!("{low} < {search_low}"),
        Prefix::Ge => {
            format!("({high} >= {search_low} AND ({high} > {search_high} OR {contained}))")
        }
        Prefix::Le => format!("({low} <= {search_high} AND ({low} < {search_low} OR {contained}))"),
        Prefix::StartsAfter => format!("{low} > {search_high}"),
        Prefix::EndsBefore => format!("{high} < {search_low}"),
        Prefix::Approximately => format!("({low} <= {search_high} AND {high} >= {search_low})"),
    }
}

/// For a value no wider than [`DateRange::WIDEST_POINT`] (a single-point date parameter),
/// the bound on its other column that `value`'s prefix implies: `ge X` means `high >= X`,
/// hence `low >= X - widest`. With a `lt Y` on the same row, `low` is then bounded on both
/// sides, one index range instead of every value before `Y`.
pub(crate) fn point_date_bound(
    sql: &mut SqlBuilder,
    row: &str,
    value: &SearchValue,
) -> Option<String> {
    let SearchValue::Date { prefix, range } = value else {
        return None;
    };
    let widest = DateRange::WIDEST_POINT;
    let (column, operator, bound) = match prefix {
        Prefix::Ge | Prefix::Approximately => ("low", ">=", range.low.saturating_sub(widest)),
        Prefix::Gt => ("low", ">", range.high.saturating_sub(widest)),
        Prefix::Le => ("high", "<=", range.high.saturating_add(widest)),
        Prefix::Lt => ("high", "<", range.low.saturating_add(widest)),
        _ => return None,
    };
    Some(format!("{row}.{column} {operator} {}", sql.bind(bound)))
}

/// Numbers and quantities: the stored value (or a Range's bounds) against the searched
/// decimal, whose implicit precision makes `eq` a range: `100` is [99.5, 100.5).
fn amount_condition(row: &str, prefix: Prefix, number: &str, exponent: &str) -> String {
    let value_low = format!("COALESCE({row}.value, {row}.low)");
    let value_high = format!("COALESCE({row}.value, {row}.high)");
    let half_step = format!("(0.5 * power(10::numeric, {exponent}))");
    let searched = format!("{number}::numeric");
    match prefix {
        Prefix::Eq => format!("({value_low} >= {searched} - {half_step} AND {value_high} < {searched} + {half_step})"),
        Prefix::Ne => format!("NOT ({value_low} >= {searched} - {half_step} AND {value_high} < {searched} + {half_step})"),
        Prefix::Gt => format!("{value_high} > {searched}"),
        Prefix::Lt => format!("{value_low} < {searched}"),
        Prefix::Ge => format!("{value_high} >= {searched}"),
        Prefix::Le => format!("{value_low} <= {searched}"),
        Prefix::StartsAfter => format!("{value_low} > {searched}"),
        Prefix::EndsBefore => format!("{value_high} < {searched}"),
        // Within 10% of the searched value, as the spec suggests, and never narrower than
        // the value's own precision: `ap0` is [-0.5, 0.5], as wide as `0`, not only zero.
        Prefix::Approximately => {
            let margin = format!("greatest(abs({searched}) * 0.1, {half_step})");
            format!("({value_low} <= {searched} + {margin} AND {value_high} >= {searched} - {margin})")
        }
    }
}

/// A composite value: one row per part, all from the same element of the composite.
pub(crate) fn composite(
    sql: &mut SqlBuilder,
    resource: &ResourceKey,
    param: ParamRef,
    value: &SearchValue,
) -> String {
    let SearchValue::Composite(parts) = value else {
        return "false".to_owned();
    };
    let code = sql.bind(param.code().to_owned());
    let mut aliases: Vec<String> = Vec::new();
    let mut from = Vec::new();
    let mut conditions = Vec::new();
    for (index, (component, part)) in param.definition.component.iter().zip(parts).enumerate() {
        let Some(definition) = search_parameter_by_url(&component.definition) else {
            return "false".to_owned();
        };
        let alias = sql.alias("p");
        from.push(format!("{} {alias}", table_for(definition.kind)));
        conditions.push(format!(
            "{alias}.param = {code} AND {alias}.composite_component = {index} AND {}",
            condition(sql, &alias, Modifier::None, part)
        ));
        if let Some(first) = aliases.first() {
            conditions.push(format!(
                "{} AND {alias}.composite_element = {first}.composite_element",
                same_resource(&alias, &ResourceKey::owner_of(first))
            ));
        } else {
            conditions.push(same_resource(&alias, resource));
        }
        aliases.push(alias);
    }
    format!(
        "EXISTS (SELECT 1 FROM {} WHERE {})",
        from.join(", "),
        conditions.join(" AND ")
    )
}

/// `column` starts with `prefix`, as the range of the strings that do: from `prefix` up to
/// the first string after all of them (`prefix_end`). Written as a range, it is an index
/// range whatever `prefix` is; as `LIKE $n`, a plan kept for any value (`plans.rs`) cannot
/// turn it into one, and read every value of the parameter (77 ms for a family name).
fn starts_with(sql: &mut SqlBuilder, column: &str, prefix: &str) -> String {
    let start = sql.bind(prefix.to_owned());
    match prefix_end(prefix) {
        Some(end) => format!("({column} >= {start} AND {column} < {})", sql.bind(end)),
        None => format!("{column} >= {start}"),
    }
}

/// The least string greater than every string starting with `prefix`, in code point order
/// (the byte order of UTF-8, and so of the `C` collation of the index columns): `prefix` with
/// its last character that has a successor replaced by that successor, and what follows it
/// dropped. `None` when no character has one (the prefix is empty or all U+10FFFF), and the
/// strings starting with `prefix` then reach the end of the order.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut characters: Vec<char> = prefix.chars().collect();
    while let Some(last) = characters.pop() {
        // The surrogates U+D800 to U+DFFF are not characters: U+D7FF is followed by U+E000.
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            _ => char::from_u32(u32::from(last) + 1),
        };
        if let Some(next) = next {
            characters.push(next);
            return Some(characters.into_iter().collect());
        }
    }
    None
}

/// Escapes `%`, `_` and `\` so a searched string matches literally inside LIKE.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// Microseconds since 1970 as a timestamp, clamped to what PostgreSQL and `time` hold.
pub(crate) fn timestamp(micros: i64) -> OffsetDateTime {
    let clamped = micros.clamp(-62_135_596_800_000_000, 253_402_300_799_999_999);
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(clamped) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A full-text query as a `tsquery` expression: each run of words through
/// `websearch_to_tsquery` (the stored documents' `simple` configuration splits them alike),
/// combined with `&&` and `||`.
fn text_query(sql: &mut SqlBuilder, query: &TextQuery) -> String {
    let combine = |sql: &mut SqlBuilder, parts: &[TextQuery], operator: &str| {
        let parts: Vec<String> = parts.iter().map(|part| text_query(sql, part)).collect();
        format!("({})", parts.join(operator))
    };
    match query {
        TextQuery::Words(words) => {
            format!(
                "websearch_to_tsquery('simple', {})",
                sql.bind(words.clone())
            )
        }
        TextQuery::All(parts) => combine(sql, parts, " && "),
        TextQuery::Any(parts) => combine(sql, parts, " || "),
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_follows_the_last_character() {
        assert_eq!(prefix_end("smith").as_deref(), Some("smiti"));
        assert_eq!(prefix_end("zoë").as_deref(), Some("zoì"));
    }

    #[test]
    fn prefix_end_skips_characters_without_a_successor() {
        assert_eq!(prefix_end("ab\u{10FFFF}").as_deref(), Some("ac"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn prefix_end_steps_over_the_surrogates() {
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    }

    #[test]
    fn every_string_with_the_prefix_sorts_before_its_end() {
        for prefix in ["smith", "a\u{D7FF}", "ab\u{10FFFF}", "é"] {
            let end = prefix_end(prefix).expect("an end");
            for tail in ["", "a", "\u{10FFFF}\u{10FFFF}", "zzz", "\u{E000}"] {
                let candidate = format!("{prefix}{tail}");
                // Code point order is the byte order of UTF-8, which `str` comparison uses.
                assert!(
                    candidate.as_str() >= prefix && candidate < end,
                    "{candidate:?}"
                );
            }
            assert!(!end.starts_with(prefix));
        }
    }
}
