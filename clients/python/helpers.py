"""Small fixtures the checks build through fhirpy: a Patient, an Observation, id sets."""

# An identifier system for the checks' own identifiers (conditional create and update).
IDENTIFIER_SYSTEM = "urn:ember:conformance"


def new_patient(fhirpy, family, **extra):
    """Creates a Patient through fhirpy and returns fhirpy's resource."""
    patient = fhirpy.resource("Patient", name=[{"family": family, "given": ["Ada"]}], **extra)
    patient.save()
    return patient


def new_observation(fhirpy, patient, value=67.5, **extra):
    """Creates a body-weight Observation (LOINC 29463-7) of `patient` through fhirpy."""
    observation = fhirpy.resource(
        "Observation",
        status="final",
        code={"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
        subject={"reference": f"Patient/{patient.id}"},
        valueQuantity={"value": value, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        **extra,
    )
    observation.save()
    return observation


def ids(resources):
    """The ids of a list of resources (fhirpy resources, fhirclient models or dicts)."""
    return {r.id if hasattr(r, "id") else r["id"] for r in resources}
