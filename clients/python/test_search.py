"""FHIR R4 search (https://hl7.org/fhir/R4/search.html) through fhirpy's search sets and SMART
fhirclient's FHIRSearch: string, token, date with prefixes, reference, quantity, composite,
chained and reverse chained parameters, modifiers, OR and AND, _include, _revinclude, _sort,
_lastUpdated, _elements, conditional delete, and paging through next links.

Every check makes its own Patients, named with a unique tag, and searches within them.
"""

import pytest
from fhirclient.models.bundle import Bundle
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

from helpers import IDENTIFIER_SYSTEM, ids, new_observation, new_patient


@pytest.fixture
def patients(fhirpy):
    """Searches Patients with fhirpy."""
    return fhirpy.resources("Patient")


@pytest.fixture
def born(fhirpy, tag):
    """Three Patients of the family `tag`, born 1970-01-01, 1980-06-15 and 1990-12-31,
    keyed by year."""
    return {
        date[:4]: new_patient(fhirpy, tag, birthDate=date)
        for date in ("1970-01-01", "1980-06-15", "1990-12-31")
    }


# --- parameter types ---


def test_string_matches_the_start_ignoring_case_and_accents(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#string

    "By default, a field matches a string query if the value of the field equals or starts with
    the supplied parameter value, after both have been normalized by case and accent".
    """
    akesson = new_patient(fhirpy, "Åkesson" + tag)
    new_patient(fhirpy, "Berg" + tag)
    assert ids(patients.search(family="akesson" + tag[:-3].lower()).fetch_all()) == {akesson.id}
    assert ids(patients.search(name="AKESSON" + tag.upper()).fetch_all()) == {akesson.id}
    assert patients.search(family="kesson" + tag).fetch_all() == []  # not a start


def test_string_exact_and_contains_modifiers(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#string

    With :exact the value must match the whole field, case and accents included; with :contains
    it may occur anywhere in the field.
    """
    akesson = new_patient(fhirpy, "Åkesson" + tag)
    berg = new_patient(fhirpy, "Berg" + tag)
    assert ids(patients.search(family__exact="Åkesson" + tag).fetch_all()) == {akesson.id}
    assert patients.search(family__exact="akesson" + tag).fetch_all() == []
    assert ids(patients.search(family__contains=tag[2:].upper()).fetch_all()) == {akesson.id, berg.id}


def test_token_matches_system_and_code_or_code_alone(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#token

    [parameter]=[system]|[code] matches both; [parameter]=[code] matches the code in any system;
    :not negates.
    """
    first = new_patient(fhirpy, tag, gender="female", identifier=[{"system": IDENTIFIER_SYSTEM, "value": tag + "-1"}])
    second = new_patient(fhirpy, tag, gender="male", identifier=[{"system": IDENTIFIER_SYSTEM, "value": tag + "-2"}])
    assert ids(patients.search(identifier=f"{IDENTIFIER_SYSTEM}|{tag}-1").fetch_all()) == {first.id}
    assert ids(patients.search(identifier=f"{tag}-2").fetch_all()) == {second.id}
    assert patients.search(identifier=f"urn:other|{tag}-1").fetch_all() == []
    assert ids(patients.search(family=tag, gender="female").fetch_all()) == {first.id}
    assert ids(patients.search(family=tag, gender__not="female").fetch_all()) == {second.id}


def test_date_prefixes_compare_ranges(patients, born, tag):
    """https://hl7.org/fhir/R4/search.html#prefix

    Also #date: eq (the default), ne, lt, le, gt, ge, sa and eb compare the range of the search
    value (here a year or a day) with the range of the stored date.
    """

    def years(**criterion):
        found = ids(patients.search(family=tag, **criterion).fetch_all())
        return {year for year, patient in born.items() if patient.id in found}

    assert years(birthdate="1980") == {"1980"}
    assert years(birthdate__ne="1980-06-15") == {"1970", "1990"}
    assert years(birthdate__lt="1980") == {"1970"}
    assert years(birthdate__le="1980-06-15") == {"1970", "1980"}
    assert years(birthdate__gt="1980-06-15") == {"1990"}
    assert years(birthdate__ge="1980-06-15") == {"1980", "1990"}
    assert years(birthdate__sa="1980") == {"1990"}
    assert years(birthdate__eb="1980") == {"1970"}


def test_date_time_with_a_zone_is_compared_as_an_instant(fhirpy, tag):
    """https://hl7.org/fhir/R4/search.html#date

    DateTime values with a time zone are points in time; 10:00+01:00 is 09:00Z, before 09:30Z.
    """
    patient = new_patient(fhirpy, tag)
    observation = new_observation(fhirpy, patient, effectiveDateTime="2021-03-01T10:00:00+01:00")
    observations = fhirpy.resources("Observation").search(subject=f"Patient/{patient.id}")
    assert ids(observations.search(date__lt="2021-03-01T09:30:00Z").fetch_all()) == {observation.id}
    assert observations.search(date__gt="2021-03-01T09:30:00Z").fetch_all() == []
    assert ids(observations.search(date="2021-03-01").fetch_all()) == {observation.id}
    # The same instants with an offset: the client percent-encodes the "+".
    assert ids(observations.search(date__lt="2021-03-01T10:30:00+01:00").fetch_all()) == {observation.id}
    assert ids(observations.search(date__gt="2021-03-01T09:30:00+01:00").fetch_all()) == {observation.id}
    assert observations.search(date__gt="2021-03-01T10:30:00+01:00").fetch_all() == []


def test_reference_by_type_and_id_by_id_and_by_type_modifier(fhirpy, tag):
    """https://hl7.org/fhir/R4/search.html#reference

    [param]=[type]/[id], [param]=[id] and [param]:[type]=[id] all find the resources that refer
    to that resource.
    """
    patient = new_patient(fhirpy, tag)
    other = new_patient(fhirpy, tag)
    mine = {new_observation(fhirpy, patient).id, new_observation(fhirpy, patient).id}
    new_observation(fhirpy, other)
    observations = fhirpy.resources("Observation")
    assert ids(observations.search(subject=f"Patient/{patient.id}").fetch_all()) == mine
    assert ids(observations.search(subject=patient.id).fetch_all()) == mine
    assert ids(observations.search(subject__Patient=patient.id).fetch_all()) == mine
    assert ids(observations.search(patient=f"Patient/{patient.id}").fetch_all()) == mine


def test_chained_parameter_searches_the_referenced_resource(fhirpy, tag):
    """https://hl7.org/fhir/R4/search.html#chaining

    subject:Patient.family=x finds Observations whose subject is a Patient with that family
    name.
    """
    alpha = new_patient(fhirpy, tag + "Alpha")
    beta = new_patient(fhirpy, tag + "Beta")
    of_alpha = new_observation(fhirpy, alpha)
    of_beta = new_observation(fhirpy, beta)
    observations = fhirpy.resources("Observation")
    assert ids(observations.search(subject__Patient__family=tag + "Alpha").fetch_all()) == {of_alpha.id}
    assert ids(observations.search(subject__family=tag).fetch_all()) == {of_alpha.id, of_beta.id}


def test_reverse_chain_finds_patients_by_their_observations(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#has

    _has:Observation:subject:[param]=[value] finds the Patients some Observation of which
    matches.
    """
    measured = new_patient(fhirpy, tag)
    new_patient(fhirpy, tag)
    new_observation(fhirpy, measured, identifier=[{"system": IDENTIFIER_SYSTEM, "value": tag}])
    found = patients.search(family=tag).has("Observation", "subject", identifier=f"{IDENTIFIER_SYSTEM}|{tag}")
    assert ids(found.fetch_all()) == {measured.id}


# --- including other resources ---


def entries_by_mode(bundle):
    modes = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        modes.setdefault(entry["search"]["mode"], []).append(f"{resource['resourceType']}/{resource['id']}")
    return modes


def test_include_adds_the_referenced_patient_once(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/search.html#include

    _include=Observation:subject adds the Patients the matches refer to, as entries with
    search.mode = include, each once.
    """
    patient = new_patient(fhirpy, tag)
    first, second = new_observation(fhirpy, patient), new_observation(fhirpy, patient)
    search = fhirpy.resources("Observation").search(subject=f"Patient/{patient.id}").include("Observation", "subject")
    modes = entries_by_mode(search.fetch_raw())
    assert sorted(modes["match"]) == sorted([f"Observation/{first.id}", f"Observation/{second.id}"])
    assert modes["include"] == [f"Patient/{patient.id}"]

    bundle = next(Observation.where({"subject": f"Patient/{patient.id}"}).include("subject").perform_iter(smart))
    assert {type(e.resource).__name__ for e in bundle.entry} == {"Observation", "Patient"}


def test_revinclude_adds_the_observations_that_refer_to_the_patient(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/search.html#revinclude

    _revinclude=Observation:subject adds the Observations that refer to the matches, with
    search.mode = include.
    """
    patient = new_patient(fhirpy, tag)
    observations = {f"Observation/{new_observation(fhirpy, patient).id}" for _ in range(2)}
    search = fhirpy.resources("Patient").search(_id=patient.id).revinclude("Observation", "subject")
    modes = entries_by_mode(search.fetch_raw())
    assert modes["match"] == [f"Patient/{patient.id}"]
    assert set(modes["include"]) == observations

    query = Patient.where({"_id": patient.id}).include("subject", Observation, reverse=True)
    bundle = next(query.perform_iter(smart))
    assert len([e for e in bundle.entry if e.search.mode == "include"]) == 2


# --- sorting and paging ---


def test_sort_orders_ascending_and_descending(patients, born, tag):
    """https://hl7.org/fhir/R4/search.html#sort

    _sort=birthdate sorts ascending, _sort=-birthdate descending.
    """
    order = [born[year].id for year in ("1970", "1980", "1990")]
    assert [p.id for p in patients.search(family=tag).sort("birthdate").fetch_all()] == order
    assert [p.id for p in patients.search(family=tag).sort("-birthdate").fetch_all()] == order[::-1]


def test_sort_by_two_keys(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#sort

    With several keys (_sort=-family,birthdate) the results are sorted by the first key, and by
    the next among those equal on it.
    """
    a1 = new_patient(fhirpy, tag + "A", birthDate="1990-01-01")
    a2 = new_patient(fhirpy, tag + "A", birthDate="1970-01-01")
    b1 = new_patient(fhirpy, tag + "B", birthDate="1980-01-01")
    found = patients.search(family=tag).sort("-family", "birthdate").fetch_all()
    assert [p.id for p in found] == [b1.id, a2.id, a1.id]


def test_paging_with_fhirpy_follows_next_links_to_every_match(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/http.html#paging

    Also search.html#count: with _count=3 the server pages; fhirpy's iteration follows
    Bundle.link next until the last page and sees every match once.
    """
    created = {new_patient(fhirpy, tag).id for _ in range(7)}
    first_page = patients.search(family=tag).limit(3).fetch()
    assert len(first_page) == 3
    every = [p.id for p in patients.search(family=tag).limit(3).sort("_id")]
    assert len(every) == 7
    assert set(every) == created


def test_paging_with_fhirclient_yields_pages_of_count_entries(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#paging

    Each page is a searchset Bundle with a next link until the last; fhirclient's perform_iter
    follows them, parsing every page strictly.
    """
    created = {new_patient(fhirpy, tag).id for _ in range(7)}
    pages = list(Patient.where({"family": tag, "_count": "3"}).perform_iter(smart))
    assert [len(page.entry) for page in pages] == [3, 3, 1]
    assert all(isinstance(page, Bundle) and page.type == "searchset" for page in pages)
    assert {e.resource.id for page in pages for e in page.entry} == created
    assert not any(link.relation == "next" for link in pages[-1].link)


# --- more parameter forms ---


def test_comma_is_or_and_repeating_a_parameter_is_and(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#combining

    A comma separates values any of which may match (OR); a parameter repeated must match each
    time (AND).
    """
    alpha = new_patient(fhirpy, tag + "Alpha", gender="female")
    beta = new_patient(fhirpy, tag + "Beta", gender="male")
    new_patient(fhirpy, tag + "Gamma", gender="female")
    assert ids(patients.search(family=f"{tag}Alpha,{tag}Beta").fetch_all()) == {alpha.id, beta.id}
    both = patients.search(family=[tag, tag + "Al"], gender="female").fetch_all()
    assert ids(both) == {alpha.id}


def test_value_with_a_space_sent_form_encoded_by_fhirclient(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#search

    Search parameters travel in the URL query; fhirclient form-encodes a space as "+", which
    the server reads as a space.
    """
    dyke = new_patient(fhirpy, f"van Dyke{tag}")
    new_patient(fhirpy, f"van{tag}")
    bundle = next(Patient.where({"family:exact": f"van Dyke{tag}"}).perform_iter(smart))
    assert [e.resource.id for e in bundle.entry] == [dyke.id]


def test_escaped_comma_is_part_of_the_value(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#escaping

    "\\," in a value is a literal comma, not an OR.
    """
    joined = new_patient(fhirpy, f"Smith,Jones{tag}")
    new_patient(fhirpy, f"Smith{tag}")
    assert ids(patients.search(family__exact=f"Smith\\,Jones{tag}").fetch_all()) == {joined.id}


def test_missing_modifier(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#modifiers

    :missing=true finds the resources without a value for the parameter, :missing=false those
    with one.
    """
    with_birth = new_patient(fhirpy, tag, birthDate="1980-06-15")
    without_birth = new_patient(fhirpy, tag)
    assert ids(patients.search(family=tag, birthdate__missing="true").fetch_all()) == {without_birth.id}
    assert ids(patients.search(family=tag, birthdate__missing="false").fetch_all()) == {with_birth.id}


def test_quantity_and_composite_parameters(fhirpy, tag):
    """https://hl7.org/fhir/R4/search.html#quantity

    [prefix][number]|[system]|[code]; and search.html#combining: the composite
    code-value-quantity=[code]$[quantity], both parts on the same Observation.
    """
    patient = new_patient(fhirpy, tag)
    light = new_observation(fhirpy, patient, value=61.5)
    heavy = new_observation(fhirpy, patient, value=88)
    observations = fhirpy.resources("Observation").search(subject=f"Patient/{patient.id}")
    assert ids(observations.search(value_quantity="gt70|http://unitsofmeasure.org|kg").fetch_all()) == {heavy.id}
    assert ids(observations.search(value_quantity="61.5||kg").fetch_all()) == {light.id}
    assert ids(observations.search(code_value_quantity="http://loinc.org|29463-7$lt70").fetch_all()) == {light.id}
    assert observations.search(code_value_quantity="http://loinc.org|8867-4$lt70").fetch_all() == []


def test_last_updated_finds_what_changed_since_an_instant(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#lastUpdated

    _lastUpdated=ge[instant] finds the resources whose meta.lastUpdated is at or after it.
    """
    old = new_patient(fhirpy, tag)
    cutoff = old["meta"]["lastUpdated"]
    newer = new_patient(fhirpy, tag)
    assert newer["meta"]["lastUpdated"] > cutoff
    found = patients.search(family=tag, _lastUpdated__gt=cutoff).fetch_all()
    assert ids(found) == {newer.id}


def test_elements_returns_a_marked_subset(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#elements

    _elements=birthDate returns only that element (with the mandatory ones) and the resources
    are tagged SUBSETTED.
    """
    new_patient(fhirpy, tag, birthDate="1980-06-15", gender="female")
    found = patients.search(family=tag).elements("birthDate").fetch_raw()
    resource = found["entry"][0]["resource"]
    assert resource["birthDate"] == "1980-06-15"
    assert "gender" not in resource and "name" not in resource
    assert any(t["code"] == "SUBSETTED" for t in resource["meta"]["tag"])


def test_conditional_delete_deletes_the_matches(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/http.html#delete

    Conditional delete: DELETE [base]/[type]?[search parameters] deletes the resources that
    match; a later search finds none.
    """
    new_patient(fhirpy, tag)
    new_patient(fhirpy, tag)
    keep = new_patient(fhirpy, tag + "Keep")
    _, status = patients.search(family__exact=tag).delete()
    assert status in (200, 204)
    assert ids(patients.search(family=tag).fetch_all()) == {keep.id}


def summary_of(patients, tag, mode):
    """The one Patient of the family `tag`, as a search with _summary=`mode` returns it."""
    bundle = patients.search(family=tag, _summary=mode).fetch_raw()
    (entry,) = bundle["entry"]
    return entry["resource"]


def detailed_patient(fhirpy, tag):
    """A Patient with a narrative, summary elements (name, gender) and elements that are not in
    the summary (maritalStatus, contact)."""
    return new_patient(
        fhirpy,
        tag,
        gender="female",
        maritalStatus={"text": "Married"},
        contact=[{"name": {"family": "Contact" + tag}}],
        text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Ada</div>'},
    )


def test_summary_text_and_data(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#summary

    _summary=text returns "only the text element, the id element, the meta element, and only
    top-level mandatory elements"; _summary=data removes the text element. Both are marked
    SUBSETTED.
    """
    detailed_patient(fhirpy, tag)
    text = summary_of(patients, tag, "text")
    assert set(text) <= {"resourceType", "id", "meta", "text"} and "text" in text
    data = summary_of(patients, tag, "data")
    assert "text" not in data and data["maritalStatus"] == {"text": "Married"}
    for subset in (text, data):
        assert any(t["code"] == "SUBSETTED" for t in subset["meta"]["tag"])


def test_summary_true_returns_only_summary_elements(fhirpy, patients, tag):
    """https://hl7.org/fhir/R4/search.html#summary

    _summary=true: "Return a limited subset of elements from the resource. This subset SHOULD
    consist solely of all supported elements that are marked as "summary" in the base
    definition of the resource(s)". For Patient, name and gender are summary elements;
    maritalStatus, contact and text are not.
    """
    detailed_patient(fhirpy, tag)
    summary = summary_of(patients, tag, "true")
    assert summary["name"][0]["family"] == tag and summary["gender"] == "female"
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    assert "text" not in summary
    assert "maritalStatus" not in summary, summary
    assert "contact" not in summary, summary
