/**
 * The weight of a request for admission (docs/guard.md "Weights"): the number of root
 * fields of the operation it runs, counting every alias (15 aliased `ask` fields are 15
 * asks), fragments at the root expanded, `__typename` free; at least 1. Per-minute buckets
 * and the monthly request quota count this weight, so aliasing cannot multiply a plan's
 * rate. Computed before admission from the already size-capped body; a body that does not
 * parse weighs 1 (Yoga then answers the error, after admission).
 */
import { Kind, parse, type DocumentNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

/** Weights of recently seen operations (query text + operation name): repeated operations are not re-parsed. */
const cache = new Map<string, number>();
const CACHE_MAX = 500;
/** Longer documents are weighed but not cached (they are refused by the token limit anyway). */
const CACHE_MAX_QUERY = 8_192;

export function weightOfQuery(query: string, operationName: string | null): number {
  const key = `${operationName ?? ''}\u0000${query}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let weight = 1;
  try {
    weight = weightOfDocument(parse(query, { noLocation: true, maxTokens: 2_000 }), operationName);
  } catch {
    weight = 1;
  }
  if (query.length <= CACHE_MAX_QUERY) {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, weight);
  }
  return weight;
}

function weightOfDocument(doc: DocumentNode, operationName: string | null): number {
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  if (!op) return 1;
  const fragments = new Map<string, SelectionSetNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
  const seen = new Set<string>();
  const count = (set: SelectionSetNode): number => {
    let n = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) n += sel.name.value === '__typename' ? 0 : 1;
      else if (sel.kind === Kind.INLINE_FRAGMENT) n += count(sel.selectionSet);
      else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        // A fragment spread twice (or in a cycle, which validation refuses) counts once.
        if (frag && !seen.has(name)) {
          seen.add(name);
          n += count(frag);
        }
      }
    }
    return n;
  };
  return Math.max(1, count(op.selectionSet));
}

/**
 * The weight of a size-capped request (its body's `bytes`): the query from the URL (GET),
 * the JSON body, an `application/graphql` body, or the `operations` part of a multipart upload.
 */
export async function operationWeight(request: Request, bytes: Uint8Array): Promise<number> {
  try {
    if (request.method === 'GET') {
      const url = new URL(request.url);
      const q = url.searchParams.get('query');
      return q ? weightOfQuery(q, url.searchParams.get('operationName')) : 1;
    }
    const type = (request.headers.get('content-type') ?? '').toLowerCase();
    let params: unknown;
    if (type.startsWith('application/graphql')) return weightOfQuery(new TextDecoder().decode(bytes), null);
    if (type.startsWith('multipart/form-data')) {
      const ops = (await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': type } }).formData()).get('operations');
      params = typeof ops === 'string' ? JSON.parse(ops) : null;
    } else {
      params = JSON.parse(new TextDecoder().decode(bytes));
    }
    if (!params || typeof params !== 'object' || Array.isArray(params)) return 1;
    const { query, operationName } = params as { query?: unknown; operationName?: unknown };
    return typeof query === 'string' ? weightOfQuery(query, typeof operationName === 'string' ? operationName : null) : 1;
  } catch {
    return 1;
  }
}
