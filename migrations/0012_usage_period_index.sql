-- Issue 15: the platform-admin usage report (usageReport / npm run usage:export) reads one
-- month across every tenant; the primary key (tenant_id, period) cannot serve that, so
-- without this index the report scans the whole table.
CREATE INDEX IF NOT EXISTS usage_period_tenant_idx ON usage (period, tenant_id);
