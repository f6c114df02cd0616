"""The REST interactions of FHIR R4 (https://hl7.org/fhir/R4/http.html), driven through fhirpy
and SMART's fhirclient: create, read, vread, update, delete and history of a Patient and an
Observation, version-aware updates, conditional create and update, the CapabilityStatement,
and the errors a client meets (unknown type, invalid body).

Each check names the behaviour and cites the section of the spec that requires it.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from fhirclient.models.bundle import Bundle
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome, ResourceNotFound

from helpers import IDENTIFIER_SYSTEM, ids, new_patient


def outcome_of(error):
    """The OperationOutcome a fhirpy or fhirclient error carries, parsed."""
    if isinstance(error, OperationOutcome):
        return error.resource
    if hasattr(error, "response"):
        return error.response.json()
    return json.loads(str(error))


def assert_operation_outcome(body):
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"], body
    assert all(issue["severity"] in ("fatal", "error", "warning", "information") for issue in body["issue"])


# --- create, read, update, vread, history, delete (http.html#create ... #history) ---


def test_create_assigns_id_version_1_and_last_updated(fhirpy, tag):
    """https://hl7.org/fhir/R4/http.html#create

    "The server SHALL populate the id, meta.versionId and meta.lastUpdated with the new correct
    values"; the body sent has none of them.
    """
    patient = new_patient(fhirpy, tag, gender="female", birthDate="1970-01-01")
    assert patient.id
    assert patient["meta"]["versionId"] == "1"
    assert patient["meta"]["lastUpdated"]
    assert patient["name"][0]["family"] == tag


def test_create_ignores_a_client_supplied_version_and_last_updated(fhirpy, tag):
    """https://hl7.org/fhir/R4/http.html#create

    "If the request body includes a meta, the server SHALL ignore the existing versionId and
    lastUpdated values."
    """
    meta = {"versionId": "42", "lastUpdated": "2000-01-01T00:00:00Z"}
    patient = fhirpy.resource("Patient", name=[{"family": tag}], meta=meta)
    patient.save()
    assert patient["meta"]["versionId"] == "1"
    assert not patient["meta"]["lastUpdated"].startswith("2000")


def test_read_returns_the_created_patient_to_a_strict_model(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#read

    GET [base]/[type]/[id] returns the resource; fhirclient's models parse it strictly (an
    element of the wrong JSON type would be an error).
    """
    created = new_patient(fhirpy, tag, birthDate="1970-01-01")
    read = Patient.read(created.id, smart)
    assert read.id == created.id
    assert read.name[0].family == tag
    assert read.birthDate.isostring == "1970-01-01"
    assert read.meta.versionId == "1"
    assert fhirpy.get("Patient", created.id)["name"][0]["family"] == tag


def test_update_writes_version_2_and_read_sees_it(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#update

    PUT [base]/[type]/[id] creates a new current version; the server SHALL update meta.versionId
    and meta.lastUpdated.
    """
    patient = new_patient(fhirpy, tag)
    patient["active"] = True
    patient.save()
    assert patient["meta"]["versionId"] == "2"
    read = Patient.read(patient.id, smart)
    assert read.active is True
    assert read.meta.versionId == "2"


def test_vread_returns_each_version_as_it_was(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#vread

    GET [base]/[type]/[id]/_history/[vid] returns that version.
    """
    patient = new_patient(fhirpy, tag)
    patient["active"] = True
    patient.save()
    first = Patient.read_from(f"Patient/{patient.id}/_history/1", smart)
    second = Patient.read_from(f"Patient/{patient.id}/_history/2", smart)
    assert first.meta.versionId == "1" and first.active is None
    assert second.meta.versionId == "2" and second.active is True
    via_fhirpy = fhirpy.execute(f"Patient/{patient.id}/_history/1", method="get")
    assert via_fhirpy["meta"]["versionId"] == "1"


def test_vread_of_an_unknown_version_is_404(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#vread

    A version that does not exist is 404 Not Found.
    """
    patient = new_patient(fhirpy, tag)
    with pytest.raises(FHIRNotFoundException) as error:
        Patient.read_from(f"Patient/{patient.id}/_history/9", smart)
    assert_operation_outcome(error.value.response.json())


def test_instance_history_lists_versions_newest_first(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#history

    "The return content is a Bundle with type set to history containing the specified version
    history, sorted with oldest versions last".
    """
    patient = new_patient(fhirpy, tag)
    patient["active"] = True
    patient.save()
    bundle = Bundle.read_from(f"Patient/{patient.id}/_history", smart)
    assert bundle.type == "history"
    assert [e.resource.meta.versionId for e in bundle.entry] == ["2", "1"]
    assert [e.request.method for e in bundle.entry] == ["PUT", "POST"]
    assert all(e.response.status.startswith(("200", "201")) for e in bundle.entry)


def test_delete_makes_read_fail_and_history_keep_the_deletion(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#read

    "A GET for a deleted resource returns a 410 Gone status code", whereas a GET for an unknown
    resource returns 404; http.html#delete: a deleted resource "is no longer found through
    search interactions"; http.html#history: the history includes deletions.
    """
    patient = new_patient(fhirpy, tag)
    patient.delete()
    with pytest.raises(ResourceNotFound):
        fhirpy.get("Patient", patient.id)
    with pytest.raises(requests.HTTPError) as error:
        Patient.read(patient.id, smart)
    assert error.value.response.status_code == 410
    assert_operation_outcome(error.value.response.json())
    bundle = Bundle.read_from(f"Patient/{patient.id}/_history", smart)
    assert [e.request.method for e in bundle.entry] == ["DELETE", "POST"]
    assert bundle.entry[0].resource is None
    assert fhirpy.resources("Patient").search(family=tag).fetch() == []


def test_observation_lifecycle_through_fhirclient_models(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#create,

    Also #read, #update, #delete and #history, for an Observation written from fhirclient's
    model objects and read back by fhirpy.
    """
    patient = new_patient(fhirpy, tag)
    observation = Observation(
        {
            "resourceType": "Observation",
            "status": "preliminary",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
            "subject": {"reference": f"Patient/{patient.id}"},
            "effectiveDateTime": "2021-03-01T10:00:00+01:00",
            "valueQuantity": {"value": 72, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
        }
    )
    created = Observation(observation.create(smart))
    assert created.id and created.meta.versionId == "1"

    read = fhirpy.get("Observation", created.id)
    assert read["subject"]["reference"] == f"Patient/{patient.id}"
    assert read["valueQuantity"]["value"] == 72

    created.status = "final"
    created.origin_server = smart
    updated = Observation(created.update())
    assert updated.status == "final" and updated.meta.versionId == "2"

    updated.origin_server = smart
    updated.delete()
    with pytest.raises(ResourceNotFound):
        fhirpy.get("Observation", created.id)
    history = Bundle.read_from(f"Observation/{created.id}/_history", smart)
    assert [e.request.method for e in history.entry] == ["DELETE", "PUT", "POST"]


def test_refresh_picks_up_a_version_written_by_another_client(fhirpy, smart, tag):
    """https://hl7.org/fhir/R4/http.html#cread

    Conditional read: fhirpy's refresh() sends If-None-Match with the version it holds; a newer
    version is answered in full (a 304 only while it is current).
    """
    patient = new_patient(fhirpy, tag)
    other = Patient.read(patient.id, smart)
    other.active = True
    other.update()
    patient.refresh()
    assert patient["meta"]["versionId"] == "2"
    assert patient["active"] is True


# --- version-aware updates (http.html#concurrency) ---


def test_update_with_a_stale_if_match_is_412_and_changes_nothing(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/http.html#concurrency

    "If the version id given in the If-Match header does not match, the server returns a 412
    Precondition Failed status code instead of updating the resource".
    """
    patient = new_patient(fhirpy, tag)
    patient["active"] = True
    patient.save()  # version 2

    stale = fhirpy_with_headers({"If-Match": 'W/"1"'}).resource("Patient", **dict(patient))
    stale["active"] = False
    with pytest.raises(MultipleResourcesFound) as error:  # fhirpy's name for any 412
        stale.save()
    assert_operation_outcome(outcome_of(error.value))
    assert fhirpy.get("Patient", patient.id)["meta"]["versionId"] == "2"

    current = fhirpy_with_headers({"If-Match": 'W/"2"'}).resource("Patient", **dict(patient))
    current["active"] = False
    current.save()
    assert current["meta"]["versionId"] == "3"
    assert current["active"] is False


def test_concurrent_updates_from_the_same_version_let_exactly_one_win(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/http.html#concurrency

    Version-aware updates exist to prevent lost updates: of several clients that all update
    from version 1 with If-Match: W/"1" at the same time, exactly one succeeds and the others
    get 412.
    """
    patient = new_patient(fhirpy, tag)
    clients = [fhirpy_with_headers({"If-Match": 'W/"1"'}) for _ in range(6)]

    def update(index):
        copy = clients[index].resource("Patient", **dict(patient))
        copy["name"] = [{"family": tag, "given": [f"Writer{index}"]}]
        try:
            copy.save()
            return "ok"
        except MultipleResourcesFound:  # fhirpy's name for any 412
            return "412"

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        outcomes = list(pool.map(update, range(len(clients))))
    assert sorted(outcomes) == ["412"] * (len(clients) - 1) + ["ok"]
    assert fhirpy.get("Patient", patient.id)["meta"]["versionId"] == "2"


# --- conditional create and update (http.html#ccreate, #cond-update) ---


def test_conditional_create_with_no_match_creates_and_with_one_match_returns_it(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/http.html#ccreate

    With If-None-Exist, "No matches: The server processes the create as above"; "One Match: The
    server ignores the post and returns 200 OK".
    """
    identifier = [{"system": IDENTIFIER_SYSTEM, "value": tag}]
    client = fhirpy_with_headers({"If-None-Exist": f"identifier={IDENTIFIER_SYSTEM}|{tag}"})

    first = client.resource("Patient", identifier=identifier, name=[{"family": tag}])
    first.save()
    second = client.resource("Patient", identifier=identifier, name=[{"family": tag + "other"}])
    second.save()

    assert second.id == first.id
    assert second["meta"]["versionId"] == "1"
    assert second["name"][0]["family"] == tag  # the stored resource, not the one posted
    found = fhirpy.resources("Patient").search(identifier=f"{IDENTIFIER_SYSTEM}|{tag}").fetch_all()
    assert ids(found) == {first.id}


def test_concurrent_conditional_creates_create_one_resource(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/http.html#ccreate

    Conditional create "can be used to avoid the risk of two clients creating duplicate
    resources for the same record": several clients posting the same If-None-Exist at once
    end up with one resource.
    """
    criteria = f"identifier={IDENTIFIER_SYSTEM}|{tag}"
    clients = [fhirpy_with_headers({"If-None-Exist": criteria}) for _ in range(6)]

    def create(client):
        patient = client.resource("Patient", identifier=[{"system": IDENTIFIER_SYSTEM, "value": tag}])
        patient.save()
        return patient.id

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        created = set(pool.map(create, clients))
    assert len(created) == 1
    found = fhirpy.resources("Patient").search(identifier=f"{IDENTIFIER_SYSTEM}|{tag}").fetch_all()
    assert ids(found) == created


def test_conditional_create_with_several_matches_is_412(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/http.html#ccreate

    "Multiple matches: The server returns a 412 Precondition Failed error indicating the
    client's criteria were not selective enough".
    """
    new_patient(fhirpy, tag)
    new_patient(fhirpy, tag)
    client = fhirpy_with_headers({"If-None-Exist": f"family={tag}"})
    with pytest.raises(MultipleResourcesFound) as error:
        client.resource("Patient", name=[{"family": tag}]).save()
    assert_operation_outcome(outcome_of(error.value))
    assert len(fhirpy.resources("Patient").search(family=tag).fetch_all()) == 2


def test_conditional_update_creates_then_updates_the_one_match(fhirpy, tag):
    """https://hl7.org/fhir/R4/http.html#cond-update

    PUT [base]/[type]?[search parameters]; "No matches: The server performs a create
    interaction"; "One Match: The server performs the update against the matching resource".
    """
    criteria = fhirpy.resources("Patient").search(identifier=f"{IDENTIFIER_SYSTEM}|{tag}")
    identifier = [{"system": IDENTIFIER_SYSTEM, "value": tag}]

    created, was_created = criteria.update(fhirpy.resource("Patient", identifier=identifier, active=False))
    assert was_created is True
    assert created["meta"]["versionId"] == "1"

    updated, was_created = criteria.update(fhirpy.resource("Patient", identifier=identifier, active=True))
    assert was_created is False
    assert updated.id == created.id
    assert updated["meta"]["versionId"] == "2"
    assert updated["active"] is True


def test_conditional_update_with_several_matches_is_412(fhirpy, tag):
    """https://hl7.org/fhir/R4/http.html#cond-update

    "Multiple matches: The server returns a 412 Precondition Failed error indicating the
    client's criteria were not selective enough".
    """
    new_patient(fhirpy, tag)
    new_patient(fhirpy, tag)
    criteria = fhirpy.resources("Patient").search(family=tag)
    with pytest.raises(MultipleResourcesFound):
        criteria.update(fhirpy.resource("Patient", name=[{"family": tag}], active=True))
    assert all("active" not in p for p in criteria.fetch_all())


# --- capabilities (http.html#capabilities) ---


def test_capability_statement_parses_strictly_and_claims_the_core(smart):
    """https://hl7.org/fhir/R4/http.html#capabilities

    GET [base]/metadata returns a CapabilityStatement; it claims FHIR 4.0.1 and, for Patient,
    the interactions these checks use.
    """
    smart.get_capability(force=True)
    capabilities = smart.capabilityStatement
    assert capabilities.fhirVersion == "4.0.1"
    assert any("json" in f for f in capabilities.format)
    patient = next(r for r in capabilities.rest[0].resource if r.type == "Patient")
    interactions = {i.code for i in patient.interaction}
    assert {"read", "vread", "update", "patch", "delete", "history-instance", "create", "search-type"} <= interactions
    assert patient.conditionalCreate is True
    assert patient.conditionalUpdate is True
    search_params = {p.name for p in patient.searchParam}
    assert {"family", "identifier", "birthdate"} <= search_params


# --- errors (http.html#create, #read; operationoutcome.html) ---


def test_unknown_resource_type_is_404_with_an_operation_outcome(fhirpy, smart):
    """https://hl7.org/fhir/R4/http.html#create

    Also #update: "404 Not Found - resource type not supported, or not a FHIR end-point"; Ember
    answers every error with an OperationOutcome (docs/api.md).
    """
    with pytest.raises(FHIRNotFoundException) as error:
        smart.request_json("Patientt/123")
    assert error.value.response.status_code == 404
    assert_operation_outcome(error.value.response.json())

    with pytest.raises(ResourceNotFound) as error:
        fhirpy.resource("NotAType", name=[{"family": "x"}]).save()
    assert_operation_outcome(outcome_of(error.value))
    with pytest.raises(ResourceNotFound):
        fhirpy.resources("NotAType").fetch()


def test_unknown_patient_is_404(fhirpy):
    """https://hl7.org/fhir/R4/http.html#read

    A read of an id the server does not know is 404 Not Found.
    """
    with pytest.raises(ResourceNotFound) as error:
        fhirpy.get("Patient", "does-not-exist")
    assert_operation_outcome(outcome_of(error.value))


def test_body_of_another_type_than_the_url_is_400(smart):
    """https://hl7.org/fhir/R4/http.html#create

    "400 Bad Request - resource could not be parsed or failed basic FHIR validation rules"; a
    body whose resourceType is not the URL's type is such a resource.
    """
    with pytest.raises(requests.HTTPError) as error:
        smart.post_json("Patient", {"resourceType": "Observation", "status": "final"})
    assert error.value.response.status_code == 400
    assert_operation_outcome(error.value.response.json())


def test_elements_of_the_wrong_json_type_are_400_and_nothing_is_written(fhirpy, tag):
    """https://hl7.org/fhir/R4/http.html#create

    "400 Bad Request - resource could not be parsed or failed basic FHIR validation rules";
    json.html: a boolean is JSON true or false, so "active": "yes" is not a Patient. Were it
    stored, strict readers (fhirclient's models) could not read it back.
    """
    patient = fhirpy.resource("Patient", name=[{"family": tag}], active="yes")
    with pytest.raises(OperationOutcome) as error:
        patient.save()
    outcome = outcome_of(error.value)
    assert_operation_outcome(outcome)
    assert [issue.get("expression") for issue in outcome["issue"]] == [["Patient.active"]], outcome
    assert fhirpy.resources("Patient").search(family=tag).fetch() == []


def test_unknown_search_parameter_is_ignored_unless_handling_is_strict(fhirpy, fhirpy_with_headers, tag):
    """https://hl7.org/fhir/R4/search.html#errors

    By default a server ignores parameters it does not know; with `Prefer: handling=strict` the
    client asks for an error for any unknown or unsupported parameter.
    """
    patient = new_patient(fhirpy, tag)
    lenient = fhirpy.resources("Patient").search(family=tag, nonsense="1").fetch()
    assert ids(lenient) == {patient.id}
    strict = fhirpy_with_headers({"Prefer": "handling=strict"})
    with pytest.raises(OperationOutcome) as error:
        strict.resources("Patient").search(family=tag, nonsense="1").fetch()
    assert_operation_outcome(outcome_of(error.value))

