//! `url|version` on the `url` parameter of a canonical resource (ValueSet, Questionnaire, …):
//! the URL, and the version the part after `|` names.
//! Spec: https://hl7.org/fhir/R4/search.html#uri ("servers SHOULD support automatically
//! detecting a |[version] portion of the URL and interpreting that portion as a search on
//! the version")

use super::escape::{split_unescaped, unescape};
use super::{Modifier, SearchValue};
use crate::definitions::{has_canonical_url, SearchParameterDefinition};

/// `raw` as a value of the uri parameter `parameter`: a canonical URL and its version when
/// `parameter` is the `url` of canonical resources and `raw` has an unescaped `|` with a
/// version after it; otherwise the URI as it is.
pub(super) fn uri_value(
    parameter: &SearchParameterDefinition,
    modifier: Modifier,
    raw: &str,
) -> SearchValue {
    let on_canonical_url = parameter.code == "url"
        && modifier == Modifier::None
        && parameter.base.iter().any(|base| has_canonical_url(base));
    if on_canonical_url {
        if let [url, version] = split_unescaped(raw, '|')[..] {
            if !url.is_empty() && !version.is_empty() {
                return SearchValue::CanonicalUrl {
                    url: unescape(url),
                    version: unescape(version),
                };
            }
        }
    }
    SearchValue::Uri(unescape(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::search_parameter;

    #[test]
    fn a_version_after_a_bar_is_searched_on_a_canonical_resource_url_only() {
        let value_set_url = search_parameter("ValueSet", "url").unwrap();
        assert_eq!(
            uri_value(value_set_url, Modifier::None, "http://x.org/vs|1.0"),
            SearchValue::CanonicalUrl {
                url: "http://x.org/vs".into(),
                version: "1.0".into()
            }
        );
        assert_eq!(
            uri_value(value_set_url, Modifier::Below, "http://x.org/vs|1.0"),
            SearchValue::Uri("http://x.org/vs|1.0".into())
        );
        let other_uri = search_parameter("Endpoint", "address");
        if let Some(other_uri) = other_uri.filter(|definition| definition.code != "url") {
            assert!(matches!(
                uri_value(other_uri, Modifier::None, "http://x.org/a|b"),
                SearchValue::Uri(_)
            ));
        }
    }
}
