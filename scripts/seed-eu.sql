-- Globex's own rows in its placement database (regional:eu → DB_EU), idempotent. The tenant
-- row here is the residence row the tenant-owned tables reference (src/db/tenant-copy.ts).
INSERT OR IGNORE INTO tenants (id, slug, name, plan, status, region, placement)
VALUES ('22222222-2222-4222-8222-222222222222', 'globex', 'Globex Inc.', 'starter', 'active', 'eu', 'regional:eu');
INSERT OR IGNORE INTO collections (id, tenant_id, name, description) VALUES
  ('bbbbbbbb-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'docs', 'Globex product docs');
