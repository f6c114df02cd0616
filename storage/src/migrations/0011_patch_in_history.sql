-- A version made by PATCH shows PATCH in history (Bundle.entry.request.method is an R4
-- HTTPVerb, which has PATCH). Versions patched before this migration keep PUT. NOT VALID:
-- every existing row meets the narrower check it replaces, so there is nothing to scan.
ALTER TABLE resource_version DROP CONSTRAINT resource_version_method_check;
ALTER TABLE resource_version ADD CONSTRAINT resource_version_method_check
    CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')) NOT VALID;
