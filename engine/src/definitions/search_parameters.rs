//! The 1,375 official FHIR R4 SearchParameters, trimmed to what search needs, indexed by type.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::resource_types::{resource_types, NOT_DOMAIN_RESOURCES};

/// The kind of value a search parameter matches (`SearchParameter.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

/// One part of a composite search parameter (`SearchParameter.component`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SearchParameterComponent {
    /// The canonical URL of the search parameter this part matches with.
    pub definition: String,
    /// The FHIRPath, relative to the composite's own expression, that selects this part.
    pub expression: String,
}

/// One official R4 SearchParameter, keeping the elements search needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParameterDefinition {
    /// The canonical URL, e.g. `http://hl7.org/fhir/SearchParameter/Patient-birthdate`.
    pub url: String,
    /// The resource id, e.g. `individual-birthdate`.
    pub id: String,
    /// The computer-friendly name; for the R4 core parameters it equals `code` save for case.
    pub name: String,
    /// The name used in a query string, e.g. `birthdate` or `_lastUpdated`.
    pub code: String,
    /// The resource types (or `Resource` / `DomainResource`) the parameter applies to.
    pub base: Vec<String>,
    /// The kind of value matched, from `SearchParameter.type`.
    #[serde(rename = "type")]
    pub kind: SearchParamType,
    /// The FHIRPath that extracts the values; absent for `_text`, `_content` and `_query`.
    #[serde(default)]
    pub expression: Option<String>,
    /// `normal`, `phonetic`, `nearby`, `distance` or `other`.
    #[serde(default)]
    pub xpath_usage: Option<String>,
    /// The resource types a reference parameter may point to; empty for other kinds.
    #[serde(default)]
    pub target: Vec<String>,
    /// Whether several values may be OR-ed with commas; absent means the server decides.
    #[serde(default)]
    pub multiple_or: Option<bool>,
    /// Whether the parameter may repeat to AND values; absent means the server decides.
    #[serde(default)]
    pub multiple_and: Option<bool>,
    /// The prefixes allowed (`eq`, `ne`, `gt`, …); empty when none is declared.
    #[serde(default)]
    pub comparator: Vec<String>,
    /// The modifiers allowed (`missing`, `exact`, …); none of the R4 core parameters declares any.
    #[serde(default)]
    pub modifier: Vec<String>,
    /// The chain names allowed; none of the R4 core parameters declares any.
    #[serde(default)]
    pub chain: Vec<String>,
    /// The parts of a composite parameter; empty for other kinds.
    #[serde(default)]
    pub component: Vec<SearchParameterComponent>,
}

/// All parameters, in the order of the package's `Bundle-searchParams.json`.
static ALL: LazyLock<Vec<SearchParameterDefinition>> = LazyLock::new(|| {
    let json = super::gunzip(include_bytes!(
        "../../definitions/search-parameters.json.gz"
    ))
    .expect("vendored search-parameters.json.gz is valid");
    sonic_rs::from_str(&json).expect("vendored search-parameters.json.gz is valid")
});

/// For each concrete resource type, the parameters that apply to it, in [`ALL`] order.
static BY_TYPE: LazyLock<HashMap<&'static str, Vec<&'static SearchParameterDefinition>>> =
    LazyLock::new(|| {
        let mut by_type: HashMap<&'static str, Vec<&'static SearchParameterDefinition>> =
            resource_types()
                .iter()
                .map(|&name| (name, Vec::new()))
                .collect();
        for parameter in search_parameters() {
            for (name, parameters) in &mut by_type {
                if applies_to(parameter, name) {
                    parameters.push(parameter);
                }
            }
        }
        by_type
    });

/// Every parameter by its canonical URL, for the components of composite parameters, which
/// name their parts that way (looked up on every write of a resource with composites).
static BY_URL: LazyLock<HashMap<&'static str, &'static SearchParameterDefinition>> =
    LazyLock::new(|| {
        search_parameters()
            .iter()
            .map(|parameter| (parameter.url.as_str(), parameter))
            .collect()
    });

/// Whether `parameter`'s base names the concrete `resource_type` or an abstract type it derives from.
fn applies_to(parameter: &SearchParameterDefinition, resource_type: &str) -> bool {
    parameter.base.iter().any(|base| match base.as_str() {
        "Resource" => true,
        "DomainResource" => !NOT_DOMAIN_RESOURCES.contains(&resource_type),
        concrete => concrete == resource_type,
    })
}

/// Every official R4 search parameter (1,375), in the order HL7 publishes them.
pub fn search_parameters() -> &'static [SearchParameterDefinition] {
    &ALL
}

/// The parameters usable when searching `resource_type`: those based on that type plus the
/// `Resource` ones (`_id`, `_lastUpdated`, …) and, unless the type is `Binary`, `Bundle` or
/// `Parameters`, the `DomainResource` one (`_text`). Empty when `resource_type` is not a
/// concrete R4 resource type.
pub fn search_parameters_for(
    resource_type: &str,
) -> impl Iterator<Item = &'static SearchParameterDefinition> {
    BY_TYPE.get(resource_type).into_iter().flatten().copied()
}

/// The official parameter with canonical URL `url`, e.g. the `definition` of a composite's
/// component.
pub fn search_parameter_by_url(url: &str) -> Option<&'static SearchParameterDefinition> {
    BY_URL.get(url).copied()
}

/// Whether `resource_type` is a canonical resource, which other resources may name by its
/// canonical URL (references.html#canonical): ValueSet, Questionnaire, PlanDefinition, …,
/// the types with both a `url` and a `version` parameter. Device, Contract and Subscription
/// have a `url` too, but it is an address or a link, not a name to refer by.
pub fn has_canonical_url(resource_type: &str) -> bool {
    let (mut url, mut version) = (false, false);
    for definition in search_parameters_for(resource_type) {
        url |= definition.code == "url";
        version |= definition.code == "version";
    }
    url && version
}

/// The parameter with query-string name `code` usable on `resource_type`, if any.
pub fn search_parameter(
    resource_type: &str,
    code: &str,
) -> Option<&'static SearchParameterDefinition> {
    search_parameters_for(resource_type).find(|parameter| parameter.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_for(resource_type: &str) -> Vec<&'static str> {
        search_parameters_for(resource_type)
            .map(|p| p.code.as_str())
            .collect()
    }

    #[test]
    fn all_1375_r4_search_parameters_are_vendored() {
        assert_eq!(search_parameters().len(), 1375);
    }

    #[test]
    fn search_parameter_urls_are_unique_canonicals() {
        let mut urls: Vec<&str> = search_parameters().iter().map(|p| p.url.as_str()).collect();
        assert!(urls
            .iter()
            .all(|url| url.starts_with("http://hl7.org/fhir/SearchParameter/")));
        urls.sort_unstable();
        urls.dedup();
        assert_eq!(urls.len(), 1375);
    }

    #[test]
    fn every_search_param_type_is_represented_with_official_counts() {
        let count = |kind| {
            search_parameters()
                .iter()
                .filter(|p| p.kind == kind)
                .count()
        };
        assert_eq!(count(SearchParamType::Token), 536);
        assert_eq!(count(SearchParamType::Reference), 472);
        assert_eq!(count(SearchParamType::String), 133);
        assert_eq!(count(SearchParamType::Date), 109);
        assert_eq!(count(SearchParamType::Composite), 46);
        assert_eq!(count(SearchParamType::Uri), 45);
        assert_eq!(count(SearchParamType::Quantity), 27);
        assert_eq!(count(SearchParamType::Number), 6);
        assert_eq!(count(SearchParamType::Special), 1);
    }

    #[test]
    fn search_parameters_for_patient_include_common_resource_params() {
        let codes = codes_for("Patient");
        for code in [
            "_id",
            "_lastUpdated",
            "_tag",
            "_profile",
            "_security",
            "_source",
            "_text",
        ] {
            assert!(codes.contains(&code), "{code} missing");
        }
        for code in [
            "name",
            "birthdate",
            "identifier",
            "gender",
            "family",
            "phonetic",
        ] {
            assert!(codes.contains(&code), "{code} missing");
        }
        let last_updated = search_parameter("Patient", "_lastUpdated").unwrap();
        assert_eq!(last_updated.base, ["Resource"]);
        assert_eq!(last_updated.kind, SearchParamType::Date);
        assert_eq!(
            last_updated.expression.as_deref(),
            Some("Resource.meta.lastUpdated")
        );
    }

    #[test]
    fn search_parameters_for_a_type_never_repeat_a_code() {
        for &resource_type in resource_types() {
            let mut codes = codes_for(resource_type);
            let total = codes.len();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), total, "{resource_type} repeats a code");
        }
    }

    #[test]
    fn bundle_gets_resource_params_but_not_domain_resource_text() {
        let codes = codes_for("Bundle");
        assert!(codes.contains(&"_id"));
        assert!(codes.contains(&"composition"));
        assert!(!codes.contains(&"_text"));
        assert!(search_parameter("Binary", "_text").is_none());
        assert!(search_parameter("Parameters", "_lastUpdated").is_some());
    }

    #[test]
    fn canonical_resources_have_a_url_and_a_version_and_devices_do_not_count() {
        for canonical in ["Questionnaire", "ValueSet", "PlanDefinition", "CodeSystem"] {
            assert!(has_canonical_url(canonical), "{canonical}");
        }
        for other in ["Patient", "Device", "Contract", "Subscription", "NotAType"] {
            assert!(!has_canonical_url(other), "{other}");
        }
    }

    #[test]
    fn search_parameters_for_unknown_or_abstract_types_are_empty() {
        assert_eq!(search_parameters_for("NotAType").count(), 0);
        assert_eq!(search_parameters_for("Resource").count(), 0);
        assert_eq!(search_parameters_for("patient").count(), 0);
    }

    #[test]
    fn multi_base_parameter_applies_to_each_of_its_bases() {
        let observation = search_parameter("Observation", "patient").unwrap();
        let condition = search_parameter("Condition", "patient").unwrap();
        assert_eq!(
            observation.url,
            "http://hl7.org/fhir/SearchParameter/clinical-patient"
        );
        assert!(std::ptr::eq(observation, condition));
        assert_eq!(observation.target, ["Patient", "Group"]);
        assert!(search_parameter("Organization", "patient").is_none());
    }

    #[test]
    fn reference_params_carry_their_targets() {
        let subject = search_parameter("Observation", "subject").unwrap();
        assert_eq!(subject.kind, SearchParamType::Reference);
        assert!(subject.target.iter().any(|t| t == "Patient"));
    }

    #[test]
    fn quantity_params_carry_their_comparators() {
        let value = search_parameter("Observation", "value-quantity").unwrap();
        assert_eq!(value.kind, SearchParamType::Quantity);
        assert_eq!(
            value.comparator,
            ["eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap"]
        );
    }

    #[test]
    fn composite_params_carry_their_components() {
        let composite = search_parameter("Observation", "code-value-quantity").unwrap();
        assert_eq!(composite.kind, SearchParamType::Composite);
        assert_eq!(composite.multiple_or, Some(false));
        assert_eq!(composite.component.len(), 2);
        assert_eq!(
            composite.component[0].definition,
            "http://hl7.org/fhir/SearchParameter/clinical-code"
        );
        assert_eq!(composite.component[1].expression, "value.as(Quantity)");
    }

    #[test]
    fn text_content_and_query_have_no_expression() {
        let without: Vec<&str> = search_parameters()
            .iter()
            .filter(|p| p.expression.is_none())
            .map(|p| p.code.as_str())
            .collect();
        assert_eq!(without, ["_text", "_content", "_query"]);
    }

    #[test]
    fn location_near_is_the_special_nearby_param() {
        let near = search_parameter("Location", "near").unwrap();
        assert_eq!(near.kind, SearchParamType::Special);
        assert_eq!(near.xpath_usage.as_deref(), Some("nearby"));
    }
}
