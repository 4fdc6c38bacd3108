-- Demo tenants for local development (idempotent), in the catalogue (DB). Acme's data lives
-- in the shared database; Globex's in the regional:eu placement (DB_EU, scripts/seed-eu.sql).
INSERT OR IGNORE INTO tenants (id, slug, name, plan, status, region, placement)
VALUES ('11111111-1111-4111-8111-111111111111', 'acme', 'Acme Corporation', 'pro', 'active', 'us', 'shared'),
       ('22222222-2222-4222-8222-222222222222', 'globex', 'Globex Inc.', 'starter', 'active', 'eu', 'regional:eu');
-- A local database seeded before placements had Globex in the shared database: place it in eu
-- only while it has no data there (with data, moveTenant is the way).
UPDATE tenants SET placement = 'regional:eu', region = 'eu'
 WHERE slug = 'globex' AND placement = 'shared'
   AND NOT EXISTS (SELECT 1 FROM documents WHERE tenant_id = '22222222-2222-4222-8222-222222222222');
DELETE FROM collections WHERE tenant_id = '22222222-2222-4222-8222-222222222222'
   AND (SELECT placement FROM tenants WHERE slug = 'globex') = 'regional:eu';
-- Profiles belong to the membership (migration 0006): Globex's hank is nobody else's.
INSERT OR IGNORE INTO memberships (tenant_id, user_id, role, email, name) VALUES
  ('11111111-1111-4111-8111-111111111111', 'alice', 'admin', 'alice@acme.example', 'Alice (Acme admin)'),
  ('11111111-1111-4111-8111-111111111111', 'bob', 'member', 'bob@acme.example', 'Bob (Acme member)'),
  ('22222222-2222-4222-8222-222222222222', 'hank', 'admin', 'hank@globex.example', 'Hank (Globex admin)');
INSERT OR IGNORE INTO collections (id, tenant_id, name, description) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'handbook', 'Acme employee handbook');
