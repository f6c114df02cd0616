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
  * CompartmentDefinition-{patient,encounter,relatedPerson,practitioner,device}.json,
    only to check that the standalone copies agree with the bundle.

Each output is minified JSON (trimmed to the fields Ember uses), gzip level 9 with a zero
mtime and no file name, so running the script twice on the same package gives identical bytes.
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


def load(package, name):
    with open(os.path.join(package, name), encoding="utf-8") as f:
        return json.load(f)


def bundle_resources(package, name):
    return [entry["resource"] for entry in load(package, name)["entry"]]


def pick(resource, fields):
    return {field: resource[field] for field in fields if field in resource}


def write(name, value):
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(compressed)
    print(f"{name}: {len(data)} bytes of JSON, {len(compressed)} bytes gzipped")


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


if __name__ == "__main__":
    main()
