/** Chat test helpers: GraphQL documents, an SSE reader for askStream, and small queries. */
import { env, SELF } from 'cloudflare:test';
import { gql, type GqlResult, type TestTenant } from '../helpers';

export const HIT_FIELDS = 'score text chunkIndex page chunkId document { id name }';

export const ASK = `mutation($input: AskInput!) {
  ask(input: $input) {
    text model messageId
    sources { ${HIT_FIELDS} }
    conversation { id title messages { id role content model sources { chunkId document { id } } } }
    usage { promptTokens completionTokens totalTokens }
  }
}`;

export const ASK_STREAM = `subscription($input: AskInput!) {
  askStream(input: $input) {
    type delta text messageId conversationId model
    sources { ${HIT_FIELDS} }
    usage { promptTokens completionTokens totalTokens }
    error { code message }
  }
}`;

export const CONVERSATION = `query($id: ID!) {
  conversation(id: $id) { id title createdAt messages { id role content model promptTokens completionTokens sources { chunkId text document { id name } } } }
}`;

export const CONVERSATIONS = `query($first: Int, $after: String) {
  conversations(first: $first, after: $after) { edges { node { id title } cursor } pageInfo { hasNextPage endCursor } }
}`;

export async function ask(token: string, input: Record<string, unknown>): Promise<GqlResult> {
  return gql(ASK, { input }, { token });
}

export interface SseEvent {
  event: string;
  data: any;
}

export interface SseResult {
  status: number;
  contentType: string | null;
  events: SseEvent[];
  /** The `askStream` payloads of the `next` events, in order. */
  payloads: any[];
  /** GraphQL errors carried by `next` events (refusals before streaming). */
  errors: any[];
  completed: boolean;
}

/** Parses a text/event-stream body (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export function parseSse(body: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0 && event === 'message') continue;
    const raw = data.join('\n');
    out.push({ event, data: raw ? JSON.parse(raw) : null });
  }
  return out;
}

/** Runs askStream through the Worker over SSE and reads the whole stream. */
export async function askStream(token: string, input: Record<string, unknown>): Promise<SseResult> {
  const res = await SELF.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: ASK_STREAM, variables: { input } }),
  });
  const events = parseSse(await res.text());
  const next = events.filter((e) => e.event === 'next');
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    payloads: next.filter((e) => e.data?.data?.askStream).map((e) => e.data.data.askStream),
    errors: next.flatMap((e) => e.data?.errors ?? []),
    completed: events.some((e) => e.event === 'complete'),
  };
}

/** Rows in D1 for a tenant, read directly (what the API must not have written). */
export async function countRows(table: 'messages' | 'conversations', tenantId: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`).bind(tenantId).first<{ n: number }>();
  return row?.n ?? 0;
}

export async function setSettings(t: TestTenant, input: Record<string, unknown>): Promise<GqlResult> {
  return gql(`mutation($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { settings { chatModel temperature systemPrompt } } }`, { input }, { token: t.token });
}
