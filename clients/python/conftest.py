"""Fixtures for the client conformance checks: the server's base URL and the two Python clients.

The server is whatever EMBER_BASE_URL names (clients/run starts a fresh Ember and sets it).
Every check makes its own small resources and marks them with a unique tag (a family name or
an identifier value), so checks never see each other's data and can run against a server that
already holds other resources.
"""

import os
import uuid

import pytest
from fhirclient import client as smart_client
from fhirpy import SyncFHIRClient

@pytest.fixture(scope="session")
def base_url():
    url = os.environ.get("EMBER_BASE_URL")
    if not url:
        pytest.exit("EMBER_BASE_URL is not set: run the checks with clients/run", returncode=2)
    return url.rstrip("/")


@pytest.fixture(scope="session")
def fhirpy(base_url):
    """fhirpy's synchronous client (requests underneath)."""
    return SyncFHIRClient(base_url, requests_config={"timeout": 30})


@pytest.fixture(scope="session")
def fhirpy_with_headers(base_url):
    """A factory for fhirpy clients that send extra headers (fhirpy's `extra_headers`)."""

    def make(headers):
        return SyncFHIRClient(base_url, extra_headers=headers, requests_config={"timeout": 30})

    return make


@pytest.fixture(scope="session")
def smart(base_url):
    """SMART on FHIR's fhirclient: its FHIRServer, whose models parse answers strictly."""
    settings = {"app_id": "ember-conformance", "api_base": base_url + "/"}
    return smart_client.FHIRClient(settings=settings).server


@pytest.fixture
def tag():
    """A name no other check uses: letters only, so it is a plain string search value."""
    return "Zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:12])
