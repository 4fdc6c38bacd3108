-- Demo tenants for local development (idempotent).
INSERT OR IGNORE INTO tenants (id, slug, name, plan, status, region)
VALUES ('11111111-1111-4111-8111-111111111111', 'acme', 'Acme Corporation', 'pro', 'active', 'eu'),
       ('22222222-2222-4222-8222-222222222222', 'globex', 'Globex Inc.', 'starter', 'active', 'us');
-- Profiles belong to the membership (migration 0006): Globex's hank is nobody else's.
INSERT OR IGNORE INTO memberships (tenant_id, user_id, role, email, name) VALUES
  ('11111111-1111-4111-8111-111111111111', 'alice', 'admin', 'alice@acme.example', 'Alice (Acme admin)'),
  ('11111111-1111-4111-8111-111111111111', 'bob', 'member', 'bob@acme.example', 'Bob (Acme member)'),
  ('22222222-2222-4222-8222-222222222222', 'hank', 'admin', 'hank@globex.example', 'Hank (Globex admin)');
INSERT OR IGNORE INTO collections (id, tenant_id, name, description) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'handbook', 'Acme employee handbook'),
  ('bbbbbbbb-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'docs', 'Globex product docs');
