//! Search criteria: one parameter with its modifier and OR-ed values, `:missing`, chains to any
//! depth, and reverse chains (`_has`).
//! Spec: https://hl7.org/fhir/R4/search.html#chaining and #has

use super::escape::split_unescaped;
use super::value::{parse_value, Modifier, SearchValue};
use crate::definitions::{search_parameter, SearchParamType, SearchParameterDefinition};
use crate::ResourceType;

/// A parameter as it applies to the searched types. In a search across several types the
/// code and kind are the same for all of them (checked when parsing), which is all the
/// database needs: index rows are keyed by type and code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamRef {
    pub definition: &'static SearchParameterDefinition,
}

impl ParamRef {
    pub fn code(&self) -> &'static str {
        &self.definition.code
    }

    pub fn kind(&self) -> SearchParamType {
        self.definition.kind
    }

    /// Whether, on resources of `resource_type`, this is a date parameter with at most one
    /// value, and that value a `date`, `dateTime` or `instant` (not a Period or Timing): one
    /// index row per resource, no wider than [`DateRange::WIDEST_POINT`]. Such a parameter's
    /// AND-ed criteria may be tested on one row together (`Patient.birthDate`).
    ///
    /// Decided from the expression's one path for the type and the element definitions; any
    /// expression that is not a plain path (a function, `as`, `where`) answers false.
    ///
    /// [`DateRange::WIDEST_POINT`]: crate::index::DateRange::WIDEST_POINT
    pub fn is_single_point_date(&self, resource_type: ResourceType) -> bool {
        self.kind() == SearchParamType::Date
            && self.single_value_types(resource_type).is_some_and(|types| {
                types
                    .iter()
                    .all(|kind| matches!(*kind, "date" | "dateTime" | "instant"))
            })
    }

    /// Whether, on resources of `resource_type`, this is a date parameter with at most one
    /// value of any date type (`Encounter.period`, `Observation.effective[x]`): one index
    /// row per resource, since a Period or a Timing is indexed as one range. Its AND-ed
    /// criteria may be tested on that row together; unlike a single point, the row may be
    /// of any width. Decided as for [`ParamRef::is_single_point_date`].
    pub fn is_single_date(&self, resource_type: ResourceType) -> bool {
        self.kind() == SearchParamType::Date && self.single_value_types(resource_type).is_some()
    }

    /// Whether, on resources of `resource_type`, this is a reference parameter with at most
    /// one value (`Observation.subject`, `Encounter.serviceProvider`): a resource then refers
    /// through it to one resource at most, so a chain's matches can be listed grouped by the
    /// resource they refer to without any of them appearing twice. Decided as for
    /// [`ParamRef::is_single_point_date`].
    pub fn is_single_reference(&self, resource_type: ResourceType) -> bool {
        self.kind() == SearchParamType::Reference
            && self
                .single_value_types(resource_type)
                .is_some_and(|types| types.iter().all(|kind| *kind == "Reference"))
    }

    /// The types of value the expression's one plain path for `resource_type` selects, when
    /// no element on the way repeats; `None` for any other expression. Type filters on that
    /// one element are paths to it too:
    /// `Condition.onset.as(dateTime) | Condition.onset.as(Period)` and
    /// `(Patient.deceased as dateTime)` select at most the one value of a choice element,
    /// of those types only.
    fn single_value_types(&self, resource_type: ResourceType) -> Option<Vec<&'static str>> {
        let expression: &'static str = self.definition.expression.as_deref()?;
        let prefix = format!("{}.", resource_type.as_str());
        let mut paths = expression
            .split('|')
            .map(|path| without_type_filter(path.trim()))
            .filter(|(path, _)| path.starts_with(&prefix));
        let (path, first_filter) = paths.next()?;
        let mut filters = vec![first_filter];
        for (other, filter) in paths {
            if other != path {
                return None;
            }
            filters.push(filter);
        }
        if !path
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'.')
        {
            return None;
        }
        // Every element on the way must be single, or the resource could hold several.
        let mut walked = resource_type.as_str().to_owned();
        let mut last = None;
        for name in path.split('.').skip(1) {
            walked.push('.');
            walked.push_str(name);
            match crate::definitions::element(&walked) {
                Some(element) if !element.repeats => last = Some(element),
                _ => return None,
            }
        }
        let element = last?;
        // Filtered on every path, only those types; else any of the element's.
        Some(
            filters
                .into_iter()
                .collect::<Option<Vec<&str>>>()
                .unwrap_or_else(|| element.types.to_vec()),
        )
    }
}

/// `path` without a type filter at its end (`X.as(T)`, `(X as T)`), and the filter's type.
fn without_type_filter(path: &str) -> (&str, Option<&str>) {
    if let Some(inner) = path
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
    {
        if let Some((element, kind)) = inner.split_once(" as ") {
            return (element.trim(), Some(kind.trim()));
        }
    }
    match path
        .strip_suffix(')')
        .and_then(|rest| rest.rsplit_once(".as("))
    {
        Some((element, kind)) => (element, Some(kind)),
        None => (path, None),
    }
}

/// One condition a matching resource must meet.
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// The resource has a value of `param` matching any of `values` (comma = OR). With
    /// `:not`, it has no value matching any of them.
    Values {
        param: ParamRef,
        modifier: Modifier,
        values: Vec<SearchValue>,
    },
    /// `param:missing=true` (no value at all) or `false` (at least one).
    Missing { param: ParamRef, missing: bool },
    /// `subject:Patient.name=x`: `param` refers to a resource of one of the target types
    /// that meets the inner criterion written for that type.
    Chain {
        param: ParamRef,
        targets: Vec<(ResourceType, Criterion)>,
    },
    /// `_has:Observation:subject:code=x`: some resource of `source_type` refers to this one
    /// through `reference` and meets `inner`.
    Has {
        source_type: ResourceType,
        reference: ParamRef,
        inner: Box<Criterion>,
    },
    /// `_list=id`: the resource is an item of the List with that id.
    List(Vec<String>),
    /// Any one of these holds (a compartment search across several types).
    AnyOf(Vec<Criterion>),
    /// `GET [base]/Patient/123/Observation`: any of `params` refers to the compartment's
    /// owner (or, with `owner_itself`, the resource is the owner: the `{def}` entry).
    Compartment {
        /// The type searched; the compartment's parameters are those of this type.
        resource_type: ResourceType,
        owner_type: ResourceType,
        owner_id: String,
        params: Vec<ParamRef>,
        owner_itself: bool,
    },
}

/// The criterion that puts a search of `searched` inside the compartment of
/// `owner_type/owner_id`, from the R4 CompartmentDefinitions; `None` when resources of
/// `searched` never belong to that compartment.
///
/// ```
/// use engine::{search::compartment_criterion, ResourceType};
/// let patient = ResourceType::parse("Patient").unwrap();
/// let observation = ResourceType::parse("Observation").unwrap();
/// assert!(compartment_criterion(patient, "123", observation).is_some());
/// ```
pub fn compartment_criterion(
    owner_type: ResourceType,
    owner_id: &str,
    searched: ResourceType,
) -> Option<Criterion> {
    let compartment = crate::definitions::compartment(owner_type.as_str())?;
    let mut params = Vec::new();
    // The owner is in its own compartment (Patient/123/* includes Patient/123), although
    // the definitions list only the parameters linking other resources of its type.
    let mut owner_itself = searched == owner_type;
    for code in compartment.params_for(searched.as_str()) {
        if code == "{def}" {
            owner_itself = true;
        } else if let Some(definition) = search_parameter(searched.as_str(), code) {
            params.push(ParamRef { definition });
        }
    }
    (owner_itself || !params.is_empty()).then(|| Criterion::Compartment {
        resource_type: searched,
        owner_type,
        owner_id: owner_id.to_owned(),
        params,
        owner_itself,
    })
}

/// The List ids of a `_list` value (search.html#list, and history's `_list`), comma-separated
/// and unescaped. `$current-allergies` and the like are functional lists a server would keep;
/// Ember keeps none, and finding nothing would look like an answer, so they are an error.
pub fn list_ids(value: &str) -> Result<Vec<String>, String> {
    let ids: Vec<String> = split_unescaped(value, ',')
        .into_iter()
        .map(super::unescape)
        .collect();
    match ids.iter().find(|id| id.starts_with('$')) {
        Some(functional) => Err(format!(
            "'{functional}' is a functional list, which this server does not keep"
        )),
        None => Ok(ids),
    }
}

/// Parses one `name=value` pair; `Ok(None)` when the name is not a parameter of `types`.
pub(super) fn parse(
    types: &[ResourceType],
    name: &str,
    value: &str,
) -> Result<Option<Criterion>, String> {
    if let Some(has) = name.strip_prefix("_has:") {
        return parse_has(has, value);
    }
    if name == "_list" {
        return list_ids(value).map(|ids| Some(Criterion::List(ids)));
    }
    let (head, chain) = match name.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (name, None),
    };
    let (code, modifier_text) = match head.split_once(':') {
        Some((code, modifier)) => (code, Some(modifier)),
        None => (head, None),
    };
    let Some(param) = resolve(types, code)? else {
        return Ok(None);
    };
    if let Some(rest) = chain {
        return parse_chain(param, modifier_text, rest, value);
    }
    if modifier_text == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => return Err(format!("':missing' takes true or false, not '{value}'")),
        };
        if param.kind() == SearchParamType::Composite {
            // search.html#composite: "modifiers are not used on composite parameters".
            return Err(format!(
                "'{code}' is a composite parameter, which takes no modifier; ask for ':missing' on its parts"
            ));
        }
        if matches!(code, "_id" | "_lastUpdated") {
            return Ok(Some(every_resource_has(types, !missing)));
        }
        return Ok(Some(Criterion::Missing { param, missing }));
    }
    let modifier = Modifier::parse(modifier_text)?;
    if modifier == Modifier::OfType {
        // search.html#token: ":of-type" is for Identifier; on any other value there is no
        // identifier type to match, so it would silently find nothing.
        let selects = crate::fhirpath::selected_types(param.definition).unwrap_or_default();
        if !selects.contains(&"Identifier") {
            return Err(format!(
                "':of-type' applies to identifiers; '{code}' holds {}",
                selects.join(", ")
            ));
        }
    }
    if code == "_id" && !matches!(modifier, Modifier::None | Modifier::Not) {
        return Err(format!(
            "'_id' takes ':not' or ':missing' only, not ':{}'",
            modifier_text.unwrap_or_default()
        ));
    }
    if !modifier.allowed_for(param.kind()) {
        return Err(format!(
            "The modifier ':{}' does not apply to the {:?} parameter '{code}'",
            modifier_text.unwrap_or_default(),
            param.kind()
        ));
    }
    // An empty alternative (`gender=male,`) is ignored, as an empty parameter is.
    let values = split_unescaped(value, ',')
        .into_iter()
        .filter(|raw| !raw.is_empty())
        .map(|raw| parse_value(param.definition, modifier, raw))
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(format!("'{name}' has no value"));
    }
    Ok(Some(Criterion::Values {
        param,
        modifier,
        values,
    }))
}

/// The criterion met by every resource (`matched`) or by none, for `:missing` on `_id` and
/// `_lastUpdated`, which every resource has: `_id` among no ids, or with `:not` among none.
/// Storage tests it on the id column, as any `_id` criterion.
fn every_resource_has(types: &[ResourceType], matched: bool) -> Criterion {
    let id = types
        .first()
        .and_then(|kind| search_parameter(kind.as_str(), "_id"))
        .expect("a search has a type, and R4 defines _id on every one");
    Criterion::Values {
        param: ParamRef { definition: id },
        modifier: if matched {
            Modifier::Not
        } else {
            Modifier::None
        },
        values: Vec::new(),
    }
}

/// The parameter named `code` on every one of `types`; an error when the types disagree on
/// its kind or only some of them have it, `None` when none has it or Ember cannot search by
/// it.
///
/// search.html#_type: "all other search parameters SHALL be common to all provided types".
/// Ignored, a parameter of some of them would widen the search to every resource of the
/// others.
fn resolve(types: &[ResourceType], code: &str) -> Result<Option<ParamRef>, String> {
    let mut found: Option<ParamRef> = None;
    for kind in types {
        let Some(definition) = search_parameter(kind.as_str(), code) else {
            if let Some(other) = types
                .iter()
                .find(|other| search_parameter(other.as_str(), code).is_some())
            {
                return Err(format!(
                    "'{code}' is a parameter of {other} but not of {kind}; with several types \
                     every parameter must be common to all of them (narrow _type)"
                ));
            }
            return Ok(None);
        };
        // `_query` has no expression and names a server-defined query Ember does not have:
        // searched as a token it would match nothing, silently. Unknown, it is reported.
        if definition.expression.is_none() && !super::is_full_text(code) {
            return Ok(None);
        }
        if let Some(first) = found {
            if first.kind() != definition.kind {
                return Err(format!(
                    "'{code}' has different types on the types searched; narrow _type"
                ));
            }
        } else {
            found = Some(ParamRef { definition });
        }
    }
    Ok(found)
}

/// A chain through the reference `param`; `None` when what follows it is a parameter of
/// none of the types it may refer to, which makes the whole name unknown (ignored and
/// reported, or a 400 under `Prefer: handling=strict`, as any unknown parameter).
fn parse_chain(
    param: ParamRef,
    type_modifier: Option<&str>,
    rest: &str,
    value: &str,
) -> Result<Option<Criterion>, String> {
    if param.kind() != SearchParamType::Reference {
        return Err(format!(
            "'{}' is a {:?} parameter; only reference parameters can be chained",
            param.code(),
            param.kind()
        ));
    }
    let candidates: Vec<ResourceType> = match type_modifier {
        Some(name) => vec![ResourceType::parse(name)
            .ok_or_else(|| format!("'{name}' is not an R4 resource type"))?],
        None => param
            .definition
            .target
            .iter()
            .filter_map(|name| ResourceType::parse(name))
            .collect(),
    };
    let mut targets = Vec::new();
    for target in candidates {
        if let Some(inner) = parse(&[target], rest, value)? {
            targets.push((target, inner));
        }
    }
    if targets.is_empty() {
        return Ok(None);
    }
    Ok(Some(Criterion::Chain { param, targets }))
}

/// `_has:Type:reference:parameter`; `None` when `parameter` is not one of Type's, as with
/// chains.
fn parse_has(has: &str, value: &str) -> Result<Option<Criterion>, String> {
    let mut parts = has.splitn(3, ':');
    let (Some(type_name), Some(reference_code), Some(rest)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err("_has takes the form _has:Type:reference:parameter".into());
    };
    let source_type = ResourceType::parse(type_name)
        .ok_or_else(|| format!("'{type_name}' in _has is not an R4 resource type"))?;
    let reference = search_parameter(type_name, reference_code)
        .filter(|definition| definition.kind == SearchParamType::Reference)
        .map(|definition| ParamRef { definition })
        .ok_or_else(|| format!("'{reference_code}' is not a reference parameter of {type_name}"))?;
    let Some(inner) = parse(&[source_type], rest, value)? else {
        return Ok(None);
    };
    Ok(Some(Criterion::Has {
        source_type,
        reference,
        inner: Box::new(inner),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> Vec<ResourceType> {
        vec![ResourceType::parse("Patient").unwrap()]
    }

    fn observation() -> Vec<ResourceType> {
        vec![ResourceType::parse("Observation").unwrap()]
    }

    #[test]
    fn commas_are_alternatives_of_one_criterion() {
        let Some(Criterion::Values { values, .. }) =
            parse(&patient(), "gender", "male,female").unwrap()
        else {
            panic!()
        };
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn unknown_parameters_are_not_criteria() {
        assert_eq!(parse(&patient(), "shoe-size", "42").unwrap(), None);
    }

    #[test]
    fn chains_resolve_each_step_on_the_target_type() {
        let Some(Criterion::Chain { targets, .. }) =
            parse(&observation(), "subject:Patient.organization.name", "Acme").unwrap()
        else {
            panic!()
        };
        assert_eq!(targets.len(), 1);
        assert!(
            matches!(&targets[0].1, Criterion::Chain { param, .. } if param.code() == "organization")
        );
    }

    #[test]
    fn chaining_through_a_non_reference_is_an_error_naming_it() {
        let error = parse(&patient(), "birthdate.name", "x").unwrap_err();
        assert!(error.contains("'birthdate'"), "{error}");
    }

    #[test]
    fn has_names_the_source_type_and_reference() {
        let Some(Criterion::Has {
            source_type,
            reference,
            ..
        }) = parse(&patient(), "_has:Observation:patient:code", "1234").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (source_type.as_str(), reference.code()),
            ("Observation", "patient")
        );
        assert!(parse(&patient(), "_has:Observation:code:code", "1").is_err());
    }

    #[test]
    fn missing_takes_only_true_or_false() {
        assert!(matches!(
            parse(&patient(), "birthdate:missing", "true").unwrap(),
            Some(Criterion::Missing { missing: true, .. })
        ));
        assert!(parse(&patient(), "birthdate:missing", "yes").is_err());
    }

    #[test]
    fn modifiers_of_other_types_are_rejected() {
        assert!(parse(&patient(), "birthdate:exact", "2020").is_err());
        assert!(parse(&patient(), "name:bogus", "x").is_err());
    }
}

#[cfg(test)]
mod single_point_date_tests {
    use super::*;

    fn is_single_point_date(type_name: &str, code: &str) -> bool {
        let definition = search_parameter(type_name, code).unwrap();
        ParamRef { definition }.is_single_point_date(ResourceType::parse(type_name).unwrap())
    }

    #[test]
    fn a_birth_date_is_one_point_per_patient() {
        assert!(is_single_point_date("Patient", "birthdate"));
        // `(Patient.deceased as dateTime)`: the boolean choice is not indexed as a date.
        assert!(is_single_point_date("Patient", "death-date"));
        assert!(is_single_point_date("Person", "birthdate"));
    }

    fn is_single_date(type_name: &str, code: &str) -> bool {
        let definition = search_parameter(type_name, code).unwrap();
        ParamRef { definition }.is_single_date(ResourceType::parse(type_name).unwrap())
    }

    #[test]
    fn a_period_or_a_choice_of_types_is_one_date_per_resource() {
        assert!(is_single_date("Encounter", "date"));
        assert!(is_single_date("Observation", "date"));
        assert!(is_single_date("Patient", "birthdate"));
        // `Condition.onset.as(dateTime) | Condition.onset.as(Period)`: one choice element.
        assert!(is_single_date("Condition", "onset-date"));
        assert!(is_single_date("Patient", "death-date"));
        // `AllergyIntolerance.reaction.onset`: a reaction repeats.
        assert!(!is_single_date("AllergyIntolerance", "onset"));
        // A Patient has many names; a string is no date.
        assert!(!is_single_date("Patient", "family"));
    }

    #[test]
    fn periods_timings_and_repeating_elements_are_not_single_points() {
        // Observation.effective[x] may be a Period or a Timing.
        assert!(!is_single_point_date("Observation", "date"));
        // Encounter.period is a Period.
        assert!(!is_single_point_date("Encounter", "date"));
        // `Condition.onset.as(Period)` is one of its types.
        assert!(!is_single_point_date("Condition", "onset-date"));
        // Not a date parameter at all.
        assert!(!is_single_point_date("Patient", "family"));
    }
}

#[cfg(test)]
mod single_reference_tests {
    use super::*;

    fn is_single_reference(type_name: &str, code: &str) -> bool {
        let definition = search_parameter(type_name, code).unwrap();
        ParamRef { definition }.is_single_reference(ResourceType::parse(type_name).unwrap())
    }

    #[test]
    fn a_subject_encounter_or_service_provider_refers_to_one_resource() {
        assert!(is_single_reference("Observation", "subject"));
        assert!(is_single_reference("Observation", "encounter"));
        assert!(is_single_reference("Encounter", "service-provider"));
    }

    #[test]
    fn repeating_filtered_and_non_reference_parameters_are_not_single_references() {
        // Observation.performer repeats.
        assert!(!is_single_reference("Observation", "performer"));
        // DiagnosticReport.result repeats.
        assert!(!is_single_reference("DiagnosticReport", "result"));
        // `Observation.subject.where(resolve() is Patient)` is not a plain path.
        assert!(!is_single_reference("Observation", "patient"));
        // Not a reference parameter at all.
        assert!(!is_single_reference("Observation", "code"));
    }
}
