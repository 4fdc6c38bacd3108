-- Issue 15: member removal and verified custom domains (docs/guard.md "Members and domains").
--
-- member_removals: users (JWT `sub`) an owner or admin removed from a tenant. The IdP keeps
-- signing their tokens; admission refuses them in this tenant (FORBIDDEN) while a row is here.
-- A table of its own, not a column of memberships: eraseUser deletes the membership, and
-- erasing a person must not lift their removal. `role` is the role the membership had when
-- the user was removed (what `members` shows once the membership is erased). Catalogue table
-- (with memberships and API keys): the TenantGuard reads it with the tenant row.
CREATE TABLE member_removals (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner','admin','member','viewer')),
  removed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  removed_by TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);

-- Custom domains get a verification state. Rows registered by hand before this migration
-- (and rows an operator inserts by hand in SQL later, which is trusted like before) are
-- verified: the column default is 'verified', and addDomain always writes 'pending'.
-- Only verified rows route (src/db/platform-store.ts, src/db/admission-store.ts).
ALTER TABLE tenant_domains ADD COLUMN status TEXT NOT NULL DEFAULT 'verified' CHECK (status IN ('pending','verified','failed'));
-- The TXT token the tenant publishes at _edgerag-challenge.<domain>.
ALTER TABLE tenant_domains ADD COLUMN verification_token TEXT;
ALTER TABLE tenant_domains ADD COLUMN verified_at TEXT;
ALTER TABLE tenant_domains ADD COLUMN checked_at TEXT;
ALTER TABLE tenant_domains ADD COLUMN failure_reason TEXT;
ALTER TABLE tenant_domains ADD COLUMN created_by TEXT;
UPDATE tenant_domains SET verification_token = lower(hex(randomblob(16))), verified_at = created_at WHERE verification_token IS NULL;

-- The development stand-in for DNS (DOMAIN_VERIFIER=local, never in production): TXT records
-- that verifyDomain reads instead of asking DNS_RESOLVER_URL. Set one with
--   npx wrangler d1 execute DB --local --command "INSERT INTO local_dns_records (name, value) VALUES ('_edgerag-challenge.docs.acme.test', 'edgerag-verification=<token>')"
CREATE TABLE local_dns_records (
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, value)
);
