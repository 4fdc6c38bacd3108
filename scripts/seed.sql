-- Demo tenants for local development (idempotent).
INSERT OR IGNORE INTO tenants (id, slug, name, plan, status, region)
VALUES ('11111111-1111-4111-8111-111111111111', 'acme', 'Acme Corporation', 'pro', 'active', 'eu'),
       ('22222222-2222-4222-8222-222222222222', 'globex', 'Globex Inc.', 'starter', 'active', 'us');
INSERT OR IGNORE INTO users (id, email, name) VALUES
  ('alice', 'alice@acme.example', 'Alice (Acme admin)'),
  ('bob', 'bob@acme.example', 'Bob (Acme member)'),
  ('hank', 'hank@globex.example', 'Hank (Globex admin)');
INSERT OR IGNORE INTO memberships (tenant_id, user_id, role) VALUES
  ('11111111-1111-4111-8111-111111111111', 'alice', 'admin'),
  ('11111111-1111-4111-8111-111111111111', 'bob', 'member'),
  ('22222222-2222-4222-8222-222222222222', 'hank', 'admin');
INSERT OR IGNORE INTO collections (id, tenant_id, name, description) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'handbook', 'Acme employee handbook'),
  ('bbbbbbbb-0000-4000-8000-000000000001', '22222222-2222-4222-8222-222222222222', 'docs', 'Globex product docs');
