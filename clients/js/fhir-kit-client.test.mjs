// Ember's REST behaviour checked through fhir-kit-client (npm), the JavaScript FHIR client:
// headers and status codes (which it exposes through Client.httpFor), version-aware updates,
// JSON Patch, conditional create and update, history, paging both ways, POST search,
// compartments, references resolved inside a Bundle, and errors.
// Run by clients/run with EMBER_BASE_URL set. Each check names the section of FHIR R4 it checks,
// relative to https://hl7.org/fhir/R4/ (http.html#create is https://hl7.org/fhir/R4/http.html#create).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';

import { Client } from 'fhir-kit-client';

const baseUrl = process.env.EMBER_BASE_URL;
if (!baseUrl) {
  throw new Error('EMBER_BASE_URL is not set: run the checks with clients/run');
}
const client = new Client({ baseUrl });
const SYSTEM = 'urn:ember:conformance';

/** A family name no other check uses (letters only). */
function newTag() {
  return 'Zk' + randomUUID().replace(/-/g, '').slice(0, 12).replace(/[0-9]/g, (d) => 'abcdefghij'[d]);
}

function patient(family, extra = {}) {
  return { resourceType: 'Patient', name: [{ family, given: ['Ada'] }], ...extra };
}

async function createPatient(family, extra = {}) {
  return client.create({ resourceType: 'Patient', body: patient(family, extra) });
}

async function createObservation(subject, extra = {}) {
  return client.create({
    resourceType: 'Observation',
    body: {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] },
      subject: { reference: `Patient/${subject.id}` },
      valueQuantity: { value: 67.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      ...extra,
    },
  });
}

/** The HTTP response fhir-kit-client attached to a result. */
function responseOf(result) {
  return Client.httpFor(result).response;
}

/** Runs `request`, which must fail with `status` and an OperationOutcome; returns the error. */
async function rejectsWith(status, request) {
  let error;
  try {
    await request();
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected HTTP ${status}, but the request succeeded`);
  assert.ok(error.response, `expected HTTP ${status}, got ${error}`);
  assert.equal(error.response.status, status, JSON.stringify(error.response.data));
  if (status !== 304) {
    assert.equal(error.response.data.resourceType, 'OperationOutcome', JSON.stringify(error.response.data));
    assert.ok(error.response.data.issue.length > 0);
  }
  return error;
}

/** As rejectsWith, for an interaction whose failure status the spec leaves open. */
async function rejectsWithAnyOf(statuses, request) {
  let error;
  try {
    await request();
  } catch (caught) {
    error = caught;
  }
  assert.ok(error?.response, `expected HTTP ${statuses.join(' or ')}, but the request succeeded`);
  assert.ok(statuses.includes(error.response.status), JSON.stringify(error.response));
  assert.equal(error.response.data.resourceType, 'OperationOutcome', JSON.stringify(error.response.data));
  return error;
}

function ids(bundle) {
  return (bundle.entry ?? []).map((entry) => entry.resource.id);
}

describe('create, read, update, delete (http.html)', () => {
  test('create is 201 with Location naming the id and version 1, and ETag W/"1" (http.html#create, #versioning)', async () => {
    const created = await createPatient(newTag());
    const response = responseOf(created);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('etag'), 'W/"1"');
    assert.equal(response.headers.get('location'), `${baseUrl}/Patient/${created.id}/_history/1`);
    assert.ok(response.headers.get('last-modified'));
  });

  test('read answers the current ETag and Last-Modified (http.html#read, #versioning)', async () => {
    const created = await createPatient(newTag());
    const read = await client.read({ resourceType: 'Patient', id: created.id });
    assert.deepEqual(read, created);
    assert.equal(responseOf(read).headers.get('etag'), 'W/"1"');
    assert.equal(
      new Date(responseOf(read).headers.get('last-modified')).getTime(),
      Math.floor(new Date(created.meta.lastUpdated).getTime() / 1000) * 1000,
    );
  });

  test('read with If-None-Match of the current version is 304 Not Modified (http.html#cread)', async () => {
    const created = await createPatient(newTag());
    await rejectsWith(304, () =>
      client.read({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-None-Match': 'W/"1"' } } }),
    );
    const updated = await client.update({ resourceType: 'Patient', id: created.id, body: { ...created, active: true } });
    const read = await client.read({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-None-Match': 'W/"1"' } } });
    assert.equal(read.meta.versionId, updated.meta.versionId);
  });

  test('update with If-Match of the current version succeeds, a stale one is 412 (http.html#concurrency)', async () => {
    const created = await createPatient(newTag());
    const body = { ...created, active: true };
    const updated = await client.update({
      resourceType: 'Patient', id: created.id, body, options: { headers: { 'If-Match': 'W/"1"' } },
    });
    assert.equal(responseOf(updated).status, 200);
    assert.equal(responseOf(updated).headers.get('etag'), 'W/"2"');
    await rejectsWith(412, () =>
      client.update({
        resourceType: 'Patient', id: created.id, body: { ...created, active: false },
        options: { headers: { 'If-Match': 'W/"1"' } },
      }),
    );
    const current = await client.read({ resourceType: 'Patient', id: created.id });
    assert.equal(current.meta.versionId, '2');
    assert.equal(current.active, true);
  });

  test('update of a new id creates it: update as create (http.html#upsert)', async () => {
    const id = `conformance-${randomUUID()}`;
    const created = await client.update({ resourceType: 'Patient', id, body: { ...patient(newTag()), id } });
    assert.equal(responseOf(created).status, 201);
    assert.equal(created.id, id);
    assert.equal(created.meta.versionId, '1');
  });

  test('update whose body id differs from the URL is 400 (http.html#update)', async () => {
    const created = await createPatient(newTag());
    await rejectsWith(400, () =>
      client.update({ resourceType: 'Patient', id: created.id, body: { ...created, id: 'another-id' } }),
    );
  });

  test('vread returns each version, the deletion is 410; history lists them newest first (http.html#vread, #history)', async () => {
    const created = await createPatient(newTag());
    await client.update({ resourceType: 'Patient', id: created.id, body: { ...created, active: true } });
    await client.delete({ resourceType: 'Patient', id: created.id });

    const first = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
    assert.equal(first.active, undefined);
    const second = await client.vread({ resourceType: 'Patient', id: created.id, version: '2' });
    assert.equal(second.active, true);
    await rejectsWith(410, () => client.vread({ resourceType: 'Patient', id: created.id, version: '3' }));

    const history = await client.history({ resourceType: 'Patient', id: created.id });
    assert.equal(history.type, 'history');
    assert.deepEqual(history.entry.map((e) => e.request.method), ['DELETE', 'PUT', 'POST']);
    assert.deepEqual(history.entry.map((e) => e.response.etag), ['W/"3"', 'W/"2"', 'W/"1"']);
    assert.equal(history.entry[0].resource, undefined);
  });

  test('delete is 204; a read is then 410 and deleting again still succeeds (http.html#delete, #read)', async () => {
    const created = await createPatient(newTag());
    const deleted = await client.delete({ resourceType: 'Patient', id: created.id });
    assert.equal(responseOf(deleted).status, 204);
    await rejectsWith(410, () => client.read({ resourceType: 'Patient', id: created.id }));
    const again = await client.delete({ resourceType: 'Patient', id: created.id });
    assert.ok([200, 204].includes(responseOf(again).status));
  });

  test('Prefer: return=minimal answers without a body, return=OperationOutcome with one (http.html#ops)', async () => {
    const minimal = await client.create({
      resourceType: 'Patient', body: patient(newTag()), options: { headers: { Prefer: 'return=minimal' } },
    });
    assert.deepEqual({ ...minimal }, {});
    assert.equal(responseOf(minimal).status, 201);
    assert.match(responseOf(minimal).headers.get('location'), /\/Patient\/[A-Za-z0-9\-.]{1,64}\/_history\/1$/);
    const outcome = await client.create({
      resourceType: 'Patient', body: patient(newTag()), options: { headers: { Prefer: 'return=OperationOutcome' } },
    });
    assert.equal(outcome.resourceType, 'OperationOutcome');
  });

  test('read with If-Modified-Since after the last change is 304 (http.html#cread)', async () => {
    const created = await createPatient(newTag());
    const later = new Date(Date.parse(created.meta.lastUpdated) + 2000).toUTCString();
    await rejectsWith(304, () =>
      client.read({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-Modified-Since': later } } }),
    );
    const earlier = new Date(Date.parse(created.meta.lastUpdated) - 2000).toUTCString();
    const read = await client.read({ resourceType: 'Patient', id: created.id, options: { headers: { 'If-Modified-Since': earlier } } });
    assert.equal(read.id, created.id);
  });

  test('instance history pages with _count, newest first (http.html#history, #paging)', async () => {
    let current = await createPatient(newTag());
    for (let version = 2; version <= 5; version += 1) {
      current = await client.update({ resourceType: 'Patient', id: current.id, body: { ...current, birthDate: `198${version}-01-01` } });
    }
    const pages = [await client.request(`Patient/${current.id}/_history?_count=2`)];
    for (let guard = 0; guard < 10; guard += 1) {
      const next = await client.nextPage({ bundle: pages[pages.length - 1] });
      if (!next) break;
      pages.push(next);
    }
    assert.deepEqual(
      pages.map((page) => page.entry.map((e) => e.resource.meta.versionId)),
      [['5', '4'], ['3', '2'], ['1']],
    );
  });

  test('type history holds the versions of that type only (http.html#history)', async () => {
    const created = await createPatient(newTag());
    const history = await client.history({ resourceType: 'Patient', options: { headers: {} } });
    assert.equal(history.type, 'history');
    assert.ok(history.entry.every((e) => e.request.url.startsWith('Patient')));
    assert.ok(history.entry.some((e) => e.resource?.id === created.id));
  });
});

describe('JSON Patch (http.html#patch)', () => {
  test('a JSON Patch document is applied and written as the next version', async () => {
    const created = await createPatient(newTag());
    const patched = await client.patch({
      resourceType: 'Patient',
      id: created.id,
      jsonPatch: [
        { op: 'add', path: '/active', value: true },
        { op: 'add', path: '/name/0/given/-', value: 'Bea' },
        { op: 'replace', path: '/name/0/family', value: created.name[0].family + 'Patched' },
      ],
    });
    assert.equal(responseOf(patched).status, 200);
    assert.equal(patched.meta.versionId, '2');
    assert.equal(patched.active, true);
    assert.deepEqual(patched.name[0].given, ['Ada', 'Bea']);
    assert.equal(patched.name[0].family, created.name[0].family + 'Patched');
    const read = await client.read({ resourceType: 'Patient', id: created.id });
    assert.deepEqual(read, patched);
  });

  test('a failed test operation is 422 and nothing is written (RFC 6902 section 5)', async () => {
    const created = await createPatient(newTag());
    await rejectsWith(422, () =>
      client.patch({
        resourceType: 'Patient',
        id: created.id,
        jsonPatch: [
          { op: 'test', path: '/name/0/family', value: 'Somebody else' },
          { op: 'add', path: '/active', value: true },
        ],
      }),
    );
    const read = await client.read({ resourceType: 'Patient', id: created.id });
    assert.equal(read.meta.versionId, '1');
    assert.equal(read.active, undefined);
  });

  test('a patch with a stale If-Match is 412 (http.html#concurrency)', async () => {
    const created = await createPatient(newTag());
    await client.update({ resourceType: 'Patient', id: created.id, body: { ...created, active: true } });
    await rejectsWith(412, () =>
      client.patch({
        resourceType: 'Patient',
        id: created.id,
        jsonPatch: [{ op: 'replace', path: '/active', value: false }],
        options: { headers: { 'If-Match': 'W/"1"' } },
      }),
    );
  });
});

describe('conditional create and update (http.html#ccreate, #cond-update)', () => {
  test('If-None-Exist creates once, then answers 200 with the match (http.html#ccreate)', async () => {
    const tag = newTag();
    const options = { headers: { 'If-None-Exist': `identifier=${SYSTEM}|${tag}` } };
    const body = patient(tag, { identifier: [{ system: SYSTEM, value: tag }] });
    const first = await client.create({ resourceType: 'Patient', body, options });
    assert.equal(responseOf(first).status, 201);
    const second = await client.create({ resourceType: 'Patient', body: { ...body, active: true }, options });
    assert.equal(responseOf(second).status, 200);
    assert.equal(second.id, first.id);
    assert.equal(second.active, undefined);
    const found = await client.search({ resourceType: 'Patient', searchParams: { identifier: `${SYSTEM}|${tag}` } });
    assert.deepEqual(ids(found), [first.id]);
  });

  test('If-None-Exist matching several resources is 412 (http.html#ccreate)', async () => {
    const tag = newTag();
    await createPatient(tag);
    await createPatient(tag);
    await rejectsWith(412, () =>
      client.create({ resourceType: 'Patient', body: patient(tag), options: { headers: { 'If-None-Exist': `family=${tag}` } } }),
    );
  });

  test('conditional update creates with no match and updates the one match (http.html#cond-update)', async () => {
    const tag = newTag();
    const searchParams = { identifier: `${SYSTEM}|${tag}` };
    const body = patient(tag, { identifier: [{ system: SYSTEM, value: tag }] });
    const created = await client.update({ resourceType: 'Patient', searchParams, body });
    assert.equal(responseOf(created).status, 201);
    const updated = await client.update({ resourceType: 'Patient', searchParams, body: { ...body, active: true } });
    assert.equal(responseOf(updated).status, 200);
    assert.equal(updated.id, created.id);
    assert.equal(updated.meta.versionId, '2');
  });

  test('conditional update whose body id is not the match is 400 (http.html#cond-update)', async () => {
    const tag = newTag();
    const match = await createPatient(tag, { identifier: [{ system: SYSTEM, value: tag }] });
    await rejectsWith(400, () =>
      client.update({
        resourceType: 'Patient',
        searchParams: { identifier: `${SYSTEM}|${tag}` },
        body: { ...match, id: 'not-the-match' },
      }),
    );
  });
});

describe('search (search.html)', () => {
  test('nextPage and prevPage walk the pages of a search (http.html#paging, search.html#count)', async () => {
    const tag = newTag();
    const created = [];
    for (let i = 0; i < 5; i += 1) created.push((await createPatient(tag)).id);

    const pages = [await client.search({ resourceType: 'Patient', searchParams: { family: tag, _count: 2, _sort: '_id' } })];
    for (let guard = 0; guard < 10; guard += 1) {
      const next = await client.nextPage({ bundle: pages[pages.length - 1] });
      if (!next) break;
      pages.push(next);
    }
    assert.deepEqual(pages.map((page) => ids(page).length), [2, 2, 1]);
    assert.deepEqual(pages.flatMap(ids), [...created].sort());

    const back = await client.prevPage({ bundle: pages[2] });
    assert.deepEqual(ids(back), ids(pages[1]));
  });

  test('POST [type]/_search finds what GET finds (http.html#search)', async () => {
    const tag = newTag();
    const one = await createPatient(tag, { birthDate: '1980-06-15' });
    await createPatient(tag, { birthDate: '1990-01-01' });
    const searchParams = { family: tag, birthdate: 'lt1985' };
    const viaGet = await client.search({ resourceType: 'Patient', searchParams });
    const viaPost = await client.search({ resourceType: 'Patient', searchParams, options: { postSearch: true } });
    assert.deepEqual(ids(viaGet), [one.id]);
    assert.deepEqual(ids(viaPost), [one.id]);
  });

  test('a compartment search finds the Observations of one Patient (http.html#search, compartmentdefinition.html)', async () => {
    const owner = await createPatient(newTag());
    const other = await createPatient(newTag());
    const mine = [(await createObservation(owner)).id, (await createObservation(owner)).id].sort();
    await createObservation(other);
    const found = await client.search({ resourceType: 'Observation', compartment: { resourceType: 'Patient', id: owner.id } });
    assert.deepEqual(ids(found).sort(), mine);
  });

  test('_include puts the subject in the Bundle, where resolve finds it by fullUrl (search.html#include)', async () => {
    const subject = await createPatient(newTag());
    const observation = await createObservation(subject);
    const bundle = await client.search({
      resourceType: 'Observation',
      searchParams: { _id: observation.id, _include: 'Observation:subject' },
    });
    assert.deepEqual(bundle.entry.map((e) => e.search.mode), ['match', 'include']);
    const resolved = await client.resolve({ reference: observation.subject.reference, context: bundle });
    assert.equal(resolved.id, subject.id);
    assert.equal(responseOf(resolved), undefined, 'resolved from the Bundle, not fetched again');
  });

  test('a system search with _type finds resources of the listed types (http.html#search)', async () => {
    const subject = await createPatient(newTag());
    const observation = await createObservation(subject);
    // GET [base]?…: fhir-kit-client's search({ searchParams }) asks [base]/?… (see the
    // batch and transaction checks), so this goes through its request().
    const bundle = await client.request(`${baseUrl}?_type=Patient,Observation&_id=${subject.id},${observation.id}`);
    assert.equal(bundle.type, 'searchset');
    assert.deepEqual(
      bundle.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort(),
      [`Observation/${observation.id}`, `Patient/${subject.id}`],
    );
  });

  test('_summary=count and _total=accurate give the number of matches (search.html#summary, #total)', async () => {
    const tag = newTag();
    for (let i = 0; i < 3; i += 1) await createPatient(tag);
    const counted = await client.search({ resourceType: 'Patient', searchParams: { family: tag, _summary: 'count' } });
    assert.equal(counted.total, 3);
    assert.equal(counted.entry, undefined);
    const totalled = await client.search({ resourceType: 'Patient', searchParams: { family: tag, _total: 'accurate', _count: 1 } });
    assert.equal(totalled.total, 3);
    assert.equal(totalled.entry.length, 1);
  });
});

describe('batch and transaction (http.html#transaction)', () => {
  // POST [base]: fhir-kit-client's transaction() and batch() post to [base]/ instead, which
  // Ember answers 404 (http.html#root: the base "does not include a trailing slash"), so these
  // post through its request() (docs/testing.md, "Client interoperability").
  const postBundle = (bundle) => client.request(baseUrl, { method: 'POST', body: bundle, options: { headers: { 'content-type': 'application/fhir+json' } } });

  test('a transaction creates every entry and rewrites urn:uuid references to the new ids', async () => {
    const tag = newTag();
    const patientUrl = `urn:uuid:${randomUUID()}`;
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrl, resource: patient(tag), request: { method: 'POST', url: 'Patient' } },
        {
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
            subject: { reference: patientUrl },
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    });
    assert.equal(response.type, 'transaction-response');
    assert.deepEqual(response.entry.map((e) => e.response.status.slice(0, 3)), ['201', '201']);
    const [patientId, observationId] = response.entry.map((e) => e.response.location.split('/').at(-3));
    const observation = await client.read({ resourceType: 'Observation', id: observationId });
    assert.equal(observation.subject.reference, `Patient/${patientId}`);
    const found = await client.search({ resourceType: 'Patient', searchParams: { family: tag } });
    assert.deepEqual(ids(found), [patientId]);
  });

  test('a transaction with one failing entry writes nothing', async () => {
    const tag = newTag();
    const existing = await createPatient(tag + 'Existing');
    await client.update({ resourceType: 'Patient', id: existing.id, body: { ...existing, active: true } });
    await rejectsWithAnyOf([400, 409, 412, 422], () =>
      postBundle({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: patient(tag), request: { method: 'POST', url: 'Patient' } },
          {
            resource: { ...existing, active: false },
            request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"1"' },
          },
        ],
      }),
    );
    const found = await client.search({ resourceType: 'Patient', searchParams: { 'family:exact': tag } });
    assert.deepEqual(ids(found), []);
    const current = await client.read({ resourceType: 'Patient', id: existing.id });
    assert.equal(current.meta.versionId, '2');
  });

  test('a batch answers each entry on its own', async () => {
    const tag = newTag();
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient(tag), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ],
    });
    assert.equal(response.type, 'batch-response');
    assert.deepEqual(response.entry.map((e) => e.response.status.slice(0, 3)), ['201', '404']);
    const found = await client.search({ resourceType: 'Patient', searchParams: { family: tag } });
    assert.equal(ids(found).length, 1);
  });
});

describe('errors', () => {
  test('a body that is not JSON is 400 with an OperationOutcome (http.html#create)', async () => {
    await rejectsWith(400, () => client.create({ resourceType: 'Patient', body: '{"resourceType": "Patient", "name": [' }));
  });

  test('an unknown resource type is 404 with an OperationOutcome (http.html#create, #read)', async () => {
    await rejectsWith(404, () => client.read({ resourceType: 'Patientt', id: '1' }));
    await rejectsWith(404, () => client.create({ resourceType: 'Patientt', body: { resourceType: 'Patientt' } }));
  });

  test('an id that is not a valid FHIR id is 400 (datatypes.html#id)', async () => {
    await rejectsWith(400, () => client.read({ resourceType: 'Patient', id: 'not_a_valid_id!' }));
  });

  test('a malformed search value is 400 with an OperationOutcome (search.html#errors)', async () => {
    await rejectsWith(400, () => client.search({ resourceType: 'Patient', searchParams: { birthdate: 'xx1980' } }));
  });
});
