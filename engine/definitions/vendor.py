#!/usr/bin/env python3
"""Regenerate the FHIR R4 definitions Ember vendors into engine/definitions/.

Usage:

    cd /tmp && npm pack hl7.fhir.r4.examples@4.0.1 && mkdir r4 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz -C r4
    python3 engine/definitions/vendor.py /tmp/r4/package

The argument is the extracted npm package directory (the one holding package.json).
The script reads:

  * Bundle-resources.json    -> resource-types.json.gz (concrete resource type names)
                                compartments.json.gz   (the 5 CompartmentDefinitions)
  * Bundle-searchParams.json -> search-parameters.json.gz (all 1,375 SearchParameters)
  * Bundle-resources.json and
    Bundle-types.json        -> types.tsv.gz    (every resource, datatype and primitive type)
                                elements.tsv.gz (every element path with its types and
                                cardinality, for FHIRPath and ingest, and its isSummary and
                                isModifier flags, for _summary=true)
  * Bundle-valuesets.json    -> code-systems.tsv.gz (the code system implied by each `code`
                                element's required binding, for token searches)
                                required-codes.tsv.gz (the codes each `code` element's
                                required binding allows, checked at ingest)
  * CompartmentDefinition-{patient,encounter,relatedPerson,practitioner,device}.json,
    only to check that the standalone copies agree with the bundle.
  * every resource file        -> examples.json.gz (a test fixture, not embedded in Ember:
                                  one example of each resource type and a few chosen for
                                  the JSON features they use, text unchanged)

Each output is minified JSON or tab-separated text (trimmed to the fields Ember uses), gzip
level 9 with a zero mtime and no file name, so running the script twice on the same package gives identical bytes.
It checks the counts and the facts the Rust side relies on, and fails loudly if the package
differs from the one documented in README.md.
"""

import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED_PACKAGE = ("hl7.fhir.r4.examples", "4.0.1")
EXPECTED_RESOURCE_TYPES = 146
EXPECTED_CODE_SYSTEM_ELEMENTS = 344
EXPECTED_REQUIRED_CODE_ELEMENTS = 338
EXPECTED_SEARCH_PARAMETERS = 1375
COMPARTMENT_FILES = ["patient", "encounter", "relatedPerson", "practitioner", "device"]
# engine/src/definitions/resource_types.rs hard-codes these as the concrete types that derive
# from Resource directly rather than from DomainResource (no text, contained or extensions).
NOT_DOMAIN_RESOURCES = ["Binary", "Bundle", "Parameters"]

# The SearchParameter fields search needs, in output order.
SEARCH_PARAMETER_FIELDS = [
    "url", "id", "name", "code", "base", "type", "expression", "xpathUsage", "target",
    "multipleOr", "multipleAnd", "comparator", "modifier", "chain", "component",
]
COMPONENT_FIELDS = ["definition", "expression"]

# The StructureDefinitions whose elements FHIRPath navigates: the 146 resources, the abstract
# Resource and DomainResource, and every datatype. Constraints on a datatype (SimpleQuantity,
# MoneyQuantity) are profiles, not types, and MetadataResource is a logical model.
TYPE_KINDS = ["resource", "complex-type", "primitive-type"]
EXPECTED_TYPES = {"resource": 148, "complex-type": 41, "primitive-type": 20}
EXPECTED_ELEMENTS = 7406
# examples.json.gz: per resource type, the largest example of at most this many bytes (its
# smallest if every one is larger), so that the set stays small but not trivial ...
EXAMPLE_MAX_BYTES = 8000
# ... and these, for what they exercise in json/structure.rs.
NAMED_EXAMPLES = [
    "ActivityDefinition-heart-valve-replacement.json",  # `_name` arrays aligned with values
    "Basic-referral.json",                               # modifierExtension
    "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json",  # a message: Bundle.entry.resource
    "Bundle-bundle-response.json",                       # Bundle.entry.response.outcome
    "Bundle-bundle-transaction.json",                    # request entries, contained
    "Observation-blood-pressure.json",                   # component.value[x]
    "Patient-example.json",                              # `_birthDate` with an extension
    "Questionnaire-3141.json",                           # items nested six deep (contentReference)
]
EXPECTED_EXAMPLES = 147
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPE_PREFIX = "http://hl7.org/fhirpath/System."


def load(package, name):
    with open(os.path.join(package, name), encoding="utf-8") as f:
        return json.load(f)


def bundle_resources(package, name):
    return [entry["resource"] for entry in load(package, name)["entry"]]


def pick(resource, fields):
    return {field: resource[field] for field in fields if field in resource}


def write(name, value):
    write_bytes(name, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def write_tsv(name, header, rows):
    for row in rows:
        check(all("\t" not in cell and "\n" not in cell for cell in row), f"{name}: tab in {row}")
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    write_bytes(name, ("\n".join(lines) + "\n").encode("utf-8"))


def write_bytes(name, data):
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(compressed)
    print(f"{name}: {len(data)} bytes, {len(compressed)} bytes gzipped")


def check(condition, message):
    if not condition:
        sys.exit(f"vendor.py: {message}")


def resource_types(resources):
    definitions = [r for r in resources if r["resourceType"] == "StructureDefinition"]
    concrete = [
        d for d in definitions
        if d.get("kind") == "resource"
        and d.get("derivation") == "specialization"
        and not d.get("abstract", False)
    ]
    names = sorted(d["type"] for d in concrete)
    check(len(names) == EXPECTED_RESOURCE_TYPES,
          f"expected {EXPECTED_RESOURCE_TYPES} resource types, found {len(names)}")
    check(len(set(names)) == len(names), "duplicate resource type names")
    check("Resource" not in names and "DomainResource" not in names, "abstract types leaked in")
    direct = sorted(d["type"] for d in concrete
                    if d["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Resource")
    check(direct == NOT_DOMAIN_RESOURCES,
          f"types deriving from Resource directly changed: {direct}")
    return names


def search_parameters(package):
    parameters = bundle_resources(package, "Bundle-searchParams.json")
    check(all(p["resourceType"] == "SearchParameter" for p in parameters), "non-SearchParameter entry")
    check(len(parameters) == EXPECTED_SEARCH_PARAMETERS,
          f"expected {EXPECTED_SEARCH_PARAMETERS} search parameters, found {len(parameters)}")
    check(len({p["url"] for p in parameters}) == len(parameters), "duplicate search parameter urls")
    trimmed = []
    for p in parameters:
        t = pick(p, SEARCH_PARAMETER_FIELDS)
        if "component" in t:
            t["component"] = [pick(c, COMPONENT_FIELDS) for c in t["component"]]
        trimmed.append(t)
    return trimmed


def type_definitions(package, resources):
    """The StructureDefinitions of every type FHIRPath may meet, by name."""
    definitions = [
        r for r in resources + bundle_resources(package, "Bundle-types.json")
        if r["resourceType"] == "StructureDefinition"
        and r.get("kind") in TYPE_KINDS
        and r.get("derivation") != "constraint"
    ]
    for kind, expected in EXPECTED_TYPES.items():
        found = sum(1 for d in definitions if d["kind"] == kind)
        check(found == expected, f"expected {expected} {kind} definitions, found {found}")
    by_name = {d["type"]: d for d in definitions}
    check(len(by_name) == len(definitions), "duplicate type names")
    return by_name


def types_table(definitions):
    """One row per type: name, kind, and the type it specializes (empty for Element, Resource)."""
    rows = []
    for name, d in sorted(definitions.items()):
        base = d.get("baseDefinition", "").rsplit("/", 1)[-1]
        check(base == "" or base in definitions, f"{name} derives from unknown {base}")
        rows.append([name, d["kind"], base])
    return rows


def element_type_codes(element):
    """The FHIR type codes of an element; FHIRPath System types name their FHIR type in an extension."""
    codes = []
    for t in element.get("type", []):
        code = t["code"]
        if code.startswith(SYSTEM_TYPE_PREFIX):
            named = [x["valueUrl"] for x in t.get("extension", []) if x["url"] == FHIR_TYPE_EXTENSION]
            check(len(named) == 1, f"{element['path']}: System type {code} without its FHIR type")
            code = named[0]
        codes.append(code)
    return codes


def elements_table(definitions):
    """One row per element of every resource and complex datatype (snapshots, so inherited
    elements such as Patient.meta are listed under each type): path, types, max, content
    reference, isSummary (for _summary=true), isModifier, min (1 for a mandatory element, which
    every subset keeps).
    Primitive types are left out: their only elements are id, extension and the JSON value."""
    rows = []
    for name, d in sorted(definitions.items()):
        if d["kind"] == "primitive-type":
            continue
        elements = d["snapshot"]["element"]
        check(elements[0]["path"] == name, f"{name}: snapshot does not start at the root")
        for element in elements[1:]:
            path = element["path"]
            check(path.startswith(name + "."), f"{name}: foreign element {path}")
            reference = element.get("contentReference", "")
            codes = element_type_codes(element)
            check(bool(codes) != bool(reference), f"{path}: needs exactly one of type, contentReference")
            check(all(c in definitions for c in codes), f"{path}: unknown type in {codes}")
            check(path.endswith("[x]") == (len(codes) > 1), f"{path}: choice without [x] or vice versa")
            check(element["max"] in ("0", "1", "*"), f"{path}: max {element['max']}")
            repeats = "*" if element["max"] == "*" else "1"
            summary = "true" if element.get("isSummary", False) else "false"
            modifier = "true" if element.get("isModifier", False) else "false"
            check(isinstance(element["min"], int) and element["min"] >= 0, f"{path}: min {element['min']}")
            required = "1" if element["min"] >= 1 else "0"
            rows.append([path, "|".join(codes), repeats, reference.removeprefix("#"),
                         summary, modifier, required])
    check(len(rows) == EXPECTED_ELEMENTS, f"expected {EXPECTED_ELEMENTS} elements, found {len(rows)}")
    paths = {row[0] for row in rows}
    check(len(paths) == len(rows), "duplicate element paths")
    for row in rows:
        check(row[3] == "" or row[3] in paths, f"{row[0]}: dangling content reference {row[3]}")
    return rows


def required_code_bindings(definitions, value_sets):
    """Each snapshot element of type `code` whose binding is required, with its value set
    (None when the package does not hold it), in the order of the elements table."""
    for name, d in sorted(definitions.items()):
        if d["kind"] == "primitive-type":
            continue
        for element in d["snapshot"]["element"][1:]:
            binding = element.get("binding", {})
            if element_type_codes(element) == ["code"] and binding.get("strength") == "required":
                yield element, value_sets.get(binding["valueSet"].split("|")[0])


def code_systems_table(package, definitions):
    """One row per element of type `code` whose required binding is to a value set drawing
    every code from one code system: path, that system. search.html#token: for `code` the
    system is "implicit", "defined in the value set"; so `gender=http://hl7.org/fhir/
    administrative-gender|male` means `gender=male`. Value sets with several systems, or not
    in the package (Composition.confidentiality's is in terminology.hl7.org), give no row."""
    value_sets = {
        r["url"]: r for r in bundle_resources(package, "Bundle-valuesets.json")
        if r["resourceType"] == "ValueSet"
    }
    rows = []
    for element, value_set in required_code_bindings(definitions, value_sets):
        includes = (value_set or {}).get("compose", {}).get("include", [])
        systems = {include.get("system") for include in includes}
        if len(systems) == 1 and None not in systems and not any("valueSet" in i for i in includes):
            rows.append([element["path"], systems.pop()])
    check(len(rows) == EXPECTED_CODE_SYSTEM_ELEMENTS,
          f"expected {EXPECTED_CODE_SYSTEM_ELEMENTS} code elements with an implicit system, found {len(rows)}")
    check(["Patient.gender", "http://hl7.org/fhir/administrative-gender"] in rows,
          "Patient.gender has no implicit system")
    return rows


def required_codes_table(package, definitions):
    """One row per element of type `code` whose required binding is to a value set that can be
    listed from the package: path, its codes separated by spaces. terminologies.html#required:
    "the concept in this element SHALL be from the specified value set"; these are the
    enumerations of FHIR's own JSON and XML schemas. A value set is listed when every include
    names codes or a whole code system the package holds completely (nested concepts too), with
    no filter, imported value set or exclude; the mime types (urn:ietf:bcp:13) and currencies
    (urn:iso:std:iso:4217) are not in the package, nor Composition.confidentiality's set."""
    resources = bundle_resources(package, "Bundle-valuesets.json")
    value_sets = {r["url"]: r for r in resources if r["resourceType"] == "ValueSet"}
    code_systems = {r["url"]: r for r in resources if r["resourceType"] == "CodeSystem"}

    def all_codes(concepts):
        for concept in concepts:
            yield concept["code"]
            yield from all_codes(concept.get("concept", []))

    def listed(value_set):
        compose = value_set.get("compose", {})
        if "exclude" in compose:
            return None
        codes = []
        for include in compose.get("include", []):
            if "valueSet" in include or "filter" in include:
                return None
            if "concept" in include:
                codes += [concept["code"] for concept in include["concept"]]
                continue
            system = code_systems.get(include.get("system"))
            if system is None or system.get("content") != "complete":
                return None
            codes += list(all_codes(system.get("concept", [])))
        return codes or None

    rows = []
    for element, value_set in required_code_bindings(definitions, value_sets):
        codes = listed(value_set) if value_set else None
        if codes:
            check(all(" " not in code for code in codes), f"{element['path']}: a code with a space")
            rows.append([element["path"], " ".join(dict.fromkeys(codes))])
    check(len(rows) == EXPECTED_REQUIRED_CODE_ELEMENTS,
          f"expected {EXPECTED_REQUIRED_CODE_ELEMENTS} elements with listed required codes, found {len(rows)}")
    check(["Patient.gender", "male female other unknown"] in rows, "Patient.gender's codes")
    return rows


def examples(package):
    """[file name, text] pairs: one example of each resource type in the package and the
    NAMED_EXAMPLES, in file-name order, each file's text unchanged."""
    names = sorted(
        name for name in os.listdir(package)
        if name.endswith(".json") and name != "package.json" and not name.startswith(".")
    )
    by_type = {}
    texts = {}
    for name in names:
        with open(os.path.join(package, name), encoding="utf-8") as f:
            texts[name] = f.read()
        resource_type = json.loads(texts[name])["resourceType"]
        by_type.setdefault(resource_type, []).append((len(texts[name].encode("utf-8")), name))
    chosen = set(NAMED_EXAMPLES)
    for sizes in by_type.values():
        small = [entry for entry in sizes if entry[0] <= EXAMPLE_MAX_BYTES]
        chosen.add(max(small)[1] if small else min(sizes)[1])
    check(all(name in texts for name in NAMED_EXAMPLES), "a named example is missing")
    check(len(chosen) == EXPECTED_EXAMPLES,
          f"expected {EXPECTED_EXAMPLES} examples, chose {len(chosen)}")
    return [[name, texts[name]] for name in sorted(chosen)]


def compartments(package, resources):
    definitions = [r for r in resources if r["resourceType"] == "CompartmentDefinition"]
    check(len(definitions) == len(COMPARTMENT_FILES),
          f"expected {len(COMPARTMENT_FILES)} compartment definitions, found {len(definitions)}")
    by_id = {d["id"]: d for d in definitions}
    trimmed = []
    for name in COMPARTMENT_FILES:
        standalone = load(package, f"CompartmentDefinition-{name}.json")
        check(standalone["resource"] == by_id[name]["resource"],
              f"CompartmentDefinition-{name}.json disagrees with Bundle-resources.json")
        trimmed.append({
            "code": by_id[name]["code"],
            "resource": [pick(r, ["code", "param"]) for r in by_id[name]["resource"]],
        })
    return trimmed


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python3 engine/definitions/vendor.py /path/to/extracted/package")
    package = sys.argv[1]
    manifest = load(package, "package.json")
    check((manifest["name"], manifest["version"]) == EXPECTED_PACKAGE,
          f"expected {EXPECTED_PACKAGE}, got {(manifest['name'], manifest['version'])}")

    resources = bundle_resources(package, "Bundle-resources.json")
    names = resource_types(resources)
    write("resource-types.json.gz", names)
    write("search-parameters.json.gz", search_parameters(package))
    comps = compartments(package, resources)
    for c in comps:
        check(sorted(r["code"] for r in c["resource"]) == sorted(set(names) - {"Parameters"}),
              f"{c['code']} compartment does not list every resource type but Parameters")
    write("compartments.json.gz", comps)
    definitions = type_definitions(package, resources)
    write_tsv("types.tsv.gz", ["name", "kind", "base"], types_table(definitions))
    write_tsv("elements.tsv.gz",
              ["path", "types", "max", "content_reference", "summary", "modifier", "min"],
              elements_table(definitions))
    write_tsv("code-systems.tsv.gz", ["path", "system"], code_systems_table(package, definitions))
    write_tsv("required-codes.tsv.gz", ["path", "codes"], required_codes_table(package, definitions))
    write("examples.json.gz", examples(package))


if __name__ == "__main__":
    main()
