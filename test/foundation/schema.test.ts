/**
 * The public contract, printed. A change to the schema shows up as a diff of
 * test/__snapshots__/schema.graphql, so contract changes are always deliberate
 * (update with `npm test -- -u` and review the diff).
 */
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema';

describe('GraphQL schema', () => {
  it('matches the committed SDL snapshot', async () => {
    await expect(printSchema(schema)).toMatchFileSnapshot('../__snapshots__/schema.graphql');
  });

  it('keeps the names DESIGN.md §7 promises', () => {
    const sdl = printSchema(schema);
    for (const name of ['viewer: Viewer!', 'tenant: Tenant!', 'document(id: ID!): Document', 'apiKeys: [ApiKey!]!', 'members: [Member!]!',
      'createApiKey(input: CreateApiKeyInput!): CreatedApiKey!', 'revokeApiKey(id: ID!): ApiKey!', 'updateTenantSettings(input: TenantSettingsInput!): Tenant!',
      'createTenant(input: CreateTenantInput!): Tenant!', 'updateTenant(id: ID!, input: UpdateTenantInput!): Tenant!']) {
      expect(sdl).toContain(name);
    }
  });
});
