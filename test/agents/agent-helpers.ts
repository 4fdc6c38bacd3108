/**
 * Agents test fixture: a tenant with two collections (X public handbook, Y internal) that
 * both answer the word "refunds", two agents (support on X, sales on Y), and a second tenant
 * with its own document using the same word — so every query below can leak in two directions.
 */
import { expect } from 'vitest';
import { ingestProcessed } from '../documents/doc-helpers';
import { createTenant, gql, type GqlResult, type TestTenant } from '../helpers';

export const AGENT_FIELDS = `id slug name description systemPrompt chatModel temperature maxTokens retrievalMode retrievalTopK active
  knowledge { id name } createdAt updatedAt`;

export const CREATE_AGENT = `mutation($input: CreateAgentInput!) { createAgent(input: $input) { ${AGENT_FIELDS} } }`;
export const UPDATE_AGENT = `mutation($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { ${AGENT_FIELDS} } }`;
export const DELETE_AGENT = 'mutation($id: ID!) { deleteAgent(id: $id) }';
export const AGENTS = '{ agents(first: 50) { edges { node { id slug knowledge { id } } } pageInfo { hasNextPage } } }';

export async function createAgent(t: TestTenant, input: Record<string, unknown>, token = t.token): Promise<GqlResult> {
  return gql(CREATE_AGENT, { input }, { token });
}

export async function mustCreateAgent(t: TestTenant, input: Record<string, unknown>): Promise<{ id: string; slug: string }> {
  const r = await createAgent(t, input);
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.createAgent;
}

export async function createCollection(t: TestTenant, name: string): Promise<string> {
  const r = await gql('mutation($name: String!) { createCollection(input: { name: $name }) { id } }', { name }, { token: t.token });
  expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
  return r.body.data.createCollection.id;
}

export interface Workspace {
  t: TestTenant;
  other: TestTenant;
  x: string;
  y: string;
  docX: string;
  docY: string;
  /** A document of the tenant without a collection. */
  docLoose: string;
  docOther: string;
  support: { id: string; slug: string };
  sales: { id: string; slug: string };
}

export const TEXT_X = '# Refund policy\n\nRefunds take 14 days through the public handbook. Customers ask about refunds often.';
export const TEXT_Y = '# Internal memo\n\nRefunds above 500 euros need the secret finance approval code BLUEFALCON. Refunds are audited.';
export const TEXT_LOOSE = '# Loose notes\n\nRefunds for partners follow the partner contract, never the handbook.';
export const TEXT_OTHER = '# Other tenant\n\nRefunds at the other tenant take 30 days and mention PURPLEHERON.';

export async function workspace(): Promise<Workspace> {
  const t = await createTenant({ plan: 'pro' });
  const other = await createTenant({ plan: 'pro' });
  const x = await createCollection(t, 'public-handbook');
  const y = await createCollection(t, 'internal');
  const docX = (await ingestProcessed(t, { name: 'refunds.md', text: TEXT_X, collectionId: x })).id;
  const docY = (await ingestProcessed(t, { name: 'memo.md', text: TEXT_Y, collectionId: y })).id;
  const docLoose = (await ingestProcessed(t, { name: 'loose.md', text: TEXT_LOOSE })).id;
  const docOther = (await ingestProcessed(other, { name: 'refunds.md', text: TEXT_OTHER })).id;
  const support = await mustCreateAgent(t, { slug: 'support', name: 'Support bot', knowledge: [x], systemPrompt: 'You are the support bot.' });
  const sales = await mustCreateAgent(t, { slug: 'sales', name: 'Sales bot', knowledge: [y] });
  return { t, other, x, y, docX, docY, docLoose, docOther, support, sales };
}
