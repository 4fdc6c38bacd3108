/**
 * Tenant data placement (platform admins; DESIGN §11, docs/placement.md): the placement
 * inputs of createTenant, Tenant.placement, and moveTenant with its job.
 */
import { builder } from './builder';

export const TenantTierEnum = builder.enumType('TenantTier', {
  description: 'SHARED: the shared or regional database; DEDICATED: a database of the tenant\'s own.',
  values: ['SHARED', 'DEDICATED'] as const,
});

export const LibsqlDatabaseInput = builder.inputType('LibsqlDatabaseInput', {
  description: 'A libSQL (Turso, sqld) database for a dedicated tenant. URL and token are stored AES-GCM-encrypted and never returned.',
  fields: (t) => ({
    url: t.string({ required: true, description: 'libsql://, https:// or wss:// URL.' }),
    authToken: t.string({ required: false }),
    name: t.string({ required: false, description: 'Name in the catalogue (placement dedicated:<name>); default the tenant slug.' }),
  }),
});
