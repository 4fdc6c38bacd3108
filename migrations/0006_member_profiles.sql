-- Member profiles per membership (issue 9 item 8). `users` was keyed by the JWT `sub` alone,
-- so one tenant's user "hank" showed another tenant's Hank (email, name) in `members`.
-- A profile now belongs to one membership, (tenant_id, user_id); `members` reads only it.
--
-- Existing data: a global profile is copied only where it can belong to a single tenant, the
-- user's one membership. A user with memberships in several tenants gets no copied profile
-- (there is no telling which tenant it came from; copying it to all would keep the leak).
-- The `users` table stays in place, no longer read or written (kept for operators who want
-- to reassign those profiles by hand).
ALTER TABLE memberships ADD COLUMN email TEXT;
ALTER TABLE memberships ADD COLUMN name TEXT;

UPDATE memberships
SET email = (SELECT u.email FROM users u WHERE u.id = memberships.user_id),
    name = (SELECT u.name FROM users u WHERE u.id = memberships.user_id)
WHERE (SELECT count(*) FROM memberships m WHERE m.user_id = memberships.user_id) = 1
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = memberships.user_id);
