/**
 * The one end-to-end path through Miniflare's real queue (wrangler.toml producer and
 * consumer): ingest over HTTP, let the runtime deliver the message in the background,
 * and see the document become searchable. Every other document test holds the message
 * and drives the consumer itself (doc-helpers), so their assertions on the state before
 * processing cannot race the background delivery.
 */
import { describe, expect, it, vi } from 'vitest';
import { twoTenants, gql } from '../helpers';
import { DOC_FIELDS, getDocument, hits, MODES } from './doc-helpers';

describe('ingest queue wiring (real Miniflare queue)', () => {
  it('delivers the enqueued message to the consumer in the background; the document completes and is searchable by its tenant only', async () => {
    const [a, b] = await twoTenants();
    const r = await gql(`mutation($input: IngestDocumentInput!) { ingestDocument(input: $input) { ${DOC_FIELDS} } }`, {
      input: { name: 'wiring.md', text: '# Wiring\n\nThe zephyrine turbine is inspected every ninety days by the night crew.' },
    }, { token: a.token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    const id = r.body.data.ingestDocument.id as string;

    // The consumer batches up to 1 s (max_batch_timeout); allow generous slack for a loaded CI machine.
    await vi.waitFor(async () => expect((await getDocument(a, id)).status).toBe('COMPLETED'), { timeout: 15_000, interval: 100 });

    for (const mode of MODES) {
      const found = await hits(a, { query: 'zephyrine turbine inspection', mode, topK: 3 });
      expect(found[0]?.document.id, mode).toBe(id);
      expect(await hits(b, { query: 'zephyrine turbine inspection', mode, topK: 3 }), mode).toEqual([]);
    }
  }, 30_000);
});
