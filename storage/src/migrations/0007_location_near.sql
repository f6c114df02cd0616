-- `near` (Location's distance search) is indexed from this version on: each write of a
-- Location stores its position's latitude and longitude as parts 0 and 1 of the special
-- parameter `near` in search_number (engine::index::extract). This indexes the Locations
-- written before, from their current bodies, so an upgraded database finds them too.
--
-- entry_hash is Ember's own hash of each index value (FNV-1a over Rust's form of it), which
-- SQL cannot compute; these rows take 0 and 1 instead, unique within the resource as the
-- table requires. The next update or delete of the Location compares its new hashes with
-- these, finds them gone and replaces them with rows Ember hashed, as for any other change.
-- Bounds follow Ember's implicit precision: half a unit of the last decimal written.
INSERT INTO search_number
    (tenant_key, resource_type, id, param, composite_component, composite_element, entry_hash, value, low, high)
SELECT r.tenant_key, r.resource_type, r.id, 'near', part.component, 0, part.component, part.degrees,
       part.degrees - 0.5 * power(10::numeric, -scale(part.degrees)),
       part.degrees + 0.5 * power(10::numeric, -scale(part.degrees))
FROM tenant t
-- Per tenant, so the Locations are one range of the primary key, not a scan of every resource.
JOIN resource r ON r.tenant_key = t.tenant_key AND r.resource_type = 'Location'
CROSS JOIN LATERAL (SELECT convert_from(r.body, 'UTF8')::jsonb -> 'position' AS position) located
CROSS JOIN LATERAL (VALUES (0::smallint, located.position -> 'latitude'),
                           (1::smallint, located.position -> 'longitude')) AS raw(component, degrees_json)
CROSS JOIN LATERAL (SELECT raw.component, (raw.degrees_json #>> '{}')::numeric AS degrees) part
WHERE NOT r.deleted
  AND jsonb_typeof(located.position -> 'latitude') = 'number'
  AND jsonb_typeof(located.position -> 'longitude') = 'number'
ON CONFLICT DO NOTHING;
