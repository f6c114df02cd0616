//! The FHIR R4 type system as FHIRPath needs it: every type, and every element of every
//! resource and complex datatype with its types and whether it repeats.
//!
//! Spec: https://hl7.org/fhir/R4/elementdefinition.html (snapshot elements, `contentReference`),
//! https://hl7.org/fhir/R4/formats.html#choice (choice elements, `value[x]`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// What a type is, from `StructureDefinition.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// A resource type, including the abstract `Resource` and `DomainResource`.
    Resource,
    /// A complex datatype (`HumanName`, `Quantity`, `Age`, `BackboneElement`, …).
    Complex,
    /// A primitive datatype (`string`, `dateTime`, `code`, …).
    Primitive,
}

/// One FHIR R4 type: a resource, a complex datatype or a primitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDefinition {
    /// The type's name as FHIR spells it, e.g. `Patient`, `HumanName`, `dateTime`.
    pub name: &'static str,
    /// Resource, complex or primitive.
    pub kind: TypeKind,
    /// The type it specializes (`Age` → `Quantity`, `code` → `string`, `Patient` →
    /// `DomainResource`); `None` for the roots `Element` and `Resource`.
    pub base: Option<&'static str>,
}

/// One element of a resource or datatype, trimmed from its snapshot `ElementDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementDefinition {
    /// The full path, e.g. `Observation.component.value[x]`.
    pub path: &'static str,
    /// The name as it appears after the owner's path, without `[x]`: `value`.
    pub name: &'static str,
    /// The possible types; several only for a choice element (`value[x]`). For an element
    /// defined by `contentReference`, the types of the element referred to.
    pub types: Vec<&'static str>,
    /// Whether the element may repeat (`max` = `*`), so that JSON holds it in an array.
    pub repeats: bool,
    /// `isSummary`: whether `_summary=true` returns the element (search.html#summary).
    pub summary: bool,
    /// `isModifier`: whether the element can change the meaning of the element holding it.
    pub modifier: bool,
    /// `min` >= 1: the element is mandatory, and every subset of a resource keeps it
    /// (search.html#summary, #elements).
    pub required: bool,
    /// For an element that reuses another's definition (`Questionnaire.item.item` →
    /// `Questionnaire.item`), the path of that other element.
    pub content_reference: Option<&'static str>,
    /// Where this element's own children are listed, for single-typed elements: its own path
    /// for a backbone element, the referred path for a content reference, else the type name.
    pub children: &'static str,
}

impl ElementDefinition {
    /// Whether this is a choice element, whose JSON name carries the type (`valueQuantity`).
    pub fn is_choice(&self) -> bool {
        self.path.ends_with("[x]")
    }
}

struct Tables {
    types: HashMap<&'static str, TypeDefinition>,
    /// Keyed by the owner (a type name, or the path of a backbone element) and the element name.
    elements: NameMap<Children>,
}

/// The elements listed under one owner (a type, or a backbone element's path), by name
/// without `[x]`: what [`children`] returns, so that a walk over an object looks its owner
/// up once rather than once per member.
#[derive(Debug, Default)]
pub(crate) struct Children(NameMap<ElementDefinition>);

impl Children {
    /// The element `name` (without `[x]`) among these, as [`child_element`] finds it.
    pub(crate) fn get(&'static self, name: &str) -> Option<&'static ElementDefinition> {
        self.0.get(name)
    }
}

/// A map from names to what they name, hashed with [`NameHasher`].
type NameMap<V> = HashMap<&'static str, V, BuildHasherDefault<NameHasher>>;

/// The multiply-rotate hash of rustc's `FxHasher`, for the lookups ingest makes for every
/// object and member of every body (`json/structure.rs`). SipHash, the default, resists
/// collision attacks, which these maps do not need: they are built once from the vendored
/// definitions, and a client's names are only looked up in them, never inserted. Measured
/// with the instruction counts of docs/benchmarks.md, "Element type checks at ingest".
#[derive(Debug, Default)]
struct NameHasher {
    hash: u64,
}

impl NameHasher {
    fn add(&mut self, word: u64) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let mut last = [0; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(last));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

static TYPES_TSV: LazyLock<String> = LazyLock::new(|| {
    super::gunzip(include_bytes!("../../definitions/types.tsv.gz"))
        .expect("vendored types.tsv.gz is valid")
});

static ELEMENTS_TSV: LazyLock<String> = LazyLock::new(|| {
    super::gunzip(include_bytes!("../../definitions/elements.tsv.gz"))
        .expect("vendored elements.tsv.gz is valid")
});

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let types: HashMap<&'static str, TypeDefinition> = rows::<3>(TYPES_TSV.as_str())
        .map(|[name, kind, base, ..]| {
            let kind = match kind {
                "resource" => TypeKind::Resource,
                "complex-type" => TypeKind::Complex,
                "primitive-type" => TypeKind::Primitive,
                other => panic!("vendored types.tsv.gz has unknown kind {other}"),
            };
            let base = (!base.is_empty()).then_some(base);
            (name, TypeDefinition { name, kind, base })
        })
        .collect();
    let listed: Vec<[&'static str; 7]> = rows(ELEMENTS_TSV.as_str()).collect();
    let types_of: HashMap<&'static str, &'static str> = listed
        .iter()
        .map(|&[path, types, ..]| (path, types))
        .collect();
    let mut elements: NameMap<Children> = NameMap::default();
    for &[path, types, max, reference, summary, modifier, min] in &listed {
        let (owner, name) = path.rsplit_once('.').expect("element paths have an owner");
        let name = name.strip_suffix("[x]").unwrap_or(name);
        let content_reference = (!reference.is_empty()).then_some(reference);
        let types = content_reference.map_or(types, |target| types_of[target]);
        let types: Vec<&'static str> = types.split('|').collect();
        let children = match (content_reference, types.as_slice()) {
            (Some(target), _) => target,
            (None, ["BackboneElement" | "Element"]) => path,
            (None, [single]) => single,
            (None, _) => "",
        };
        let element = ElementDefinition {
            path,
            name,
            types,
            repeats: max == "*",
            summary: summary == "true",
            modifier: modifier == "true",
            required: min == "1",
            content_reference,
            children,
        };
        elements.entry(owner).or_default().0.insert(name, element);
    }
    Tables { types, elements }
});

/// The data rows of a vendored TSV table (the first line is its header), padded to `N` columns.
pub(super) fn rows<const N: usize>(tsv: &'static str) -> impl Iterator<Item = [&'static str; N]> {
    tsv.lines().skip(1).map(|line| {
        let mut cells = line.split('\t');
        std::array::from_fn(|_| cells.next().unwrap_or(""))
    })
}

/// The JSON member names under which some R4 element holds a URI (`uri`, `url`, `oid`,
/// `uuid`; a choice under its typed name, `valueUri`), and `reference`
/// (`Reference.reference`): where a transaction may name another entry by its `fullUrl`
/// (`bundle::rewrite_references`). A name only ever of type `canonical` is not among them.
pub(crate) fn uri_member_names() -> &'static HashSet<&'static str> {
    static NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        // "Elements of type canonical are not replaced" (http.html#trules).
        const URI_TYPES: [&str; 4] = ["uri", "url", "oid", "uuid"];
        let mut names: HashSet<&'static str> = HashSet::from(["reference"]);
        for element in TABLES
            .elements
            .values()
            .flat_map(|children| children.0.values())
        {
            for kind in element.types.iter().filter(|kind| URI_TYPES.contains(kind)) {
                if element.is_choice() {
                    let typed =
                        format!("{}{}{}", element.name, kind[..1].to_uppercase(), &kind[1..]);
                    names.insert(Box::leak(typed.into_boxed_str()));
                } else {
                    names.insert(element.name);
                }
            }
        }
        names
    });
    &NAMES
}

/// The JSON member names under which some R4 element holds a `base64Binary` (`data` of an
/// Attachment, a Binary or a Signature, `hash`, `query`, `carrierAIDC`): encoded bytes, not
/// words, which `_content` leaves out (a 1 MB attachment made a full-text document too
/// large to index, and its base64 matched nothing anyone searches for).
pub(crate) fn base64_member_names() -> &'static HashSet<&'static str> {
    static NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        TABLES
            .elements
            .values()
            .flat_map(|children| children.0.values())
            .filter(|element| element.types.contains(&"base64Binary"))
            .map(|element| element.name)
            .collect()
    });
    &NAMES
}

/// The R4 type called `name` (case-sensitive: `Patient`, `HumanName`, `dateTime`), if any.
pub fn type_definition(name: &str) -> Option<&'static TypeDefinition> {
    TABLES.types.get(name)
}

/// Every R4 type (209: resources, complex datatypes, primitives), in no particular order.
#[cfg(test)]
pub(crate) fn type_definitions() -> impl Iterator<Item = &'static TypeDefinition> {
    TABLES.types.values()
}

/// The element `name` (without `[x]`) listed under `owner`, which is a type name (`HumanName`,
/// `Patient`) or the path of a backbone element (`Observation.component`). Inherited elements
/// are listed under each type: `Patient`/`meta` is found.
pub fn child_element(owner: &str, name: &str) -> Option<&'static ElementDefinition> {
    children(owner)?.get(name)
}

/// Every element listed under `owner` (see [`child_element`]); `None` for an owner that has
/// no elements, such as a primitive type or an unknown name.
pub(crate) fn children(owner: &str) -> Option<&'static Children> {
    TABLES.elements.get(owner)
}

/// The element at `path`, a type name followed by element names, resolving through datatypes,
/// backbone elements and content references: `Patient.name.given` is `HumanName.given`,
/// `Questionnaire.item.item.text` is `Questionnaire.item.text`. Choice elements may be written
/// with or without `[x]` (`Observation.value[x]`); a path cannot continue past one.
pub fn element(path: &str) -> Option<&'static ElementDefinition> {
    let mut names = path.split('.');
    let mut owner = type_definition(names.next()?)?.name;
    let mut found = None;
    for name in names {
        let name = name.strip_suffix("[x]").unwrap_or(name);
        let element = child_element(owner, name)?;
        owner = element.children;
        found = Some(element);
    }
    found
}

/// The FHIR types of the element at `path` (see [`element`]): `Patient.birthDate` → `date`,
/// `Observation.value` → `Quantity`, `CodeableConcept`, `string`, ….
pub fn element_types(path: &str) -> Option<&'static [&'static str]> {
    element(path).map(|element| element.types.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_elements_have_their_datatype_and_cardinality() {
        let name = element("Patient.name").unwrap();
        assert_eq!(name.types, ["HumanName"]);
        assert!(name.repeats);
        let birth_date = element("Patient.birthDate").unwrap();
        assert_eq!(birth_date.types, ["date"]);
        assert!(!birth_date.repeats);
    }

    #[test]
    fn paths_continue_through_datatypes() {
        assert_eq!(element_types("Patient.name.given"), Some(&["string"][..]));
        assert_eq!(
            element_types("Encounter.period.start"),
            Some(&["dateTime"][..])
        );
        assert_eq!(
            element_types("Identifier.type"),
            Some(&["CodeableConcept"][..])
        );
        assert_eq!(element_types("HumanName.family"), Some(&["string"][..]));
    }

    #[test]
    fn choice_elements_list_every_type_with_or_without_brackets() {
        let value = element("Observation.value[x]").unwrap();
        assert!(value.is_choice());
        assert_eq!(value.name, "value");
        assert!(value.types.contains(&"Quantity"));
        assert!(value.types.contains(&"CodeableConcept"));
        assert!(value.types.contains(&"string"));
        assert_eq!(element("Observation.value"), Some(value));
        assert_eq!(value.children, "");
    }

    #[test]
    fn backbone_elements_list_their_own_children() {
        let component = element("Observation.component").unwrap();
        assert_eq!(component.types, ["BackboneElement"]);
        assert_eq!(component.children, "Observation.component");
        assert_eq!(
            element_types("Observation.component.code"),
            Some(&["CodeableConcept"][..])
        );
        assert_eq!(element_types("Timing.repeat.bounds").unwrap().len(), 3);
    }

    #[test]
    fn content_references_reuse_the_referred_definition() {
        let nested = element("Questionnaire.item.item").unwrap();
        assert_eq!(nested.content_reference, Some("Questionnaire.item"));
        assert_eq!(nested.types, ["BackboneElement"]);
        assert_eq!(
            element_types("Questionnaire.item.item.item.linkId"),
            Some(&["string"][..])
        );
    }

    #[test]
    fn inherited_elements_are_listed_under_each_type() {
        assert_eq!(element_types("Patient.meta.tag"), Some(&["Coding"][..]));
        assert_eq!(
            element_types("Resource.meta.lastUpdated"),
            Some(&["instant"][..])
        );
        assert_eq!(
            element_types("Bundle.entry.resource"),
            Some(&["Resource"][..])
        );
        assert!(child_element("HumanName", "extension").unwrap().repeats);
    }

    #[test]
    fn summary_and_modifier_flags_come_from_the_definitions() {
        let flags = |path| {
            let element = element(path).unwrap();
            (element.summary, element.modifier)
        };
        assert_eq!(flags("Patient.name"), (true, false));
        assert_eq!(flags("Patient.active"), (true, true));
        assert_eq!(flags("Patient.maritalStatus"), (false, false));
        assert_eq!(flags("Patient.modifierExtension"), (false, true));
        assert_eq!(flags("Observation.component.code"), (true, false));
        assert_eq!(
            flags("Observation.component.interpretation"),
            (false, false)
        );
        assert_eq!(flags("Attachment.data"), (false, false));
        assert_eq!(flags("Questionnaire.item.item"), (false, false));
        assert_eq!(flags("Questionnaire.item.modifierExtension"), (true, true));
    }

    #[test]
    fn unknown_paths_have_no_element() {
        assert_eq!(element("Patient.nonsense"), None);
        assert_eq!(element("Nonsense.name"), None);
        assert_eq!(element("Patient"), None);
        assert_eq!(element("Patient.birthDate.value"), None);
    }

    #[test]
    fn types_know_their_kind_and_base() {
        let age = type_definition("Age").unwrap();
        assert_eq!((age.kind, age.base), (TypeKind::Complex, Some("Quantity")));
        let patient = type_definition("Patient").unwrap();
        assert_eq!(patient.kind, TypeKind::Resource);
        assert_eq!(patient.base, Some("DomainResource"));
        assert_eq!(type_definition("code").unwrap().base, Some("string"));
        assert_eq!(type_definition("Resource").unwrap().base, None);
        assert!(type_definition("SimpleQuantity").is_none());
        assert!(type_definition("patient").is_none());
    }

    #[test]
    fn every_listed_type_and_child_scope_is_defined() {
        for element in TABLES
            .elements
            .values()
            .flat_map(|children| children.0.values())
        {
            for name in &element.types {
                assert!(type_definition(name).is_some(), "{}: {name}", element.path);
            }
        }
        assert_eq!(TABLES.types.len(), 209);
    }

    #[test]
    fn the_only_resource_type_an_element_has_is_resource() {
        // json/member.rs writes `Resource` elements as resources and every other type by the
        // case of its first letter; no element names a concrete resource type.
        for element in TABLES
            .elements
            .values()
            .flat_map(|children| children.0.values())
        {
            for name in &element.types {
                let kind = type_definition(name).unwrap().kind;
                assert!(
                    kind != TypeKind::Resource || *name == "Resource",
                    "{}",
                    element.path
                );
            }
        }
    }
}
