// The labelled retrieval set of `npm run bench:quality` (bench/quality/): 36 READMEs of npm
// packages (corpus/, see ATTRIBUTION.md) and questions.json, each question labelled with the
// one document that answers it and an `evidence` passage quoted from that document.
// loadSet() refuses a set in which any question is not answered by exactly one document:
// its evidence (case and whitespace folded) must occur in its own document and in no other.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const STYLES = ['words', 'paraphrase', 'two-word'];
export const SET_DIR = 'bench/quality';

const fold = (s) => s.toLowerCase().replace(/\s+/g, ' ');

/**
 * Loads and checks the set. Returns { documents: [{ slug, name, text }], questions: [{ id, doc,
 * style, query, evidence, split }], problems: string[] }. The split is by document, alternating
 * in corpus order: questions about 'tune' documents chose the defaults, 'held-out' ones did not.
 */
export function loadSet(dir = SET_DIR) {
  const files = readdirSync(join(dir, 'corpus')).filter((f) => f.endsWith('.md')).sort();
  const documents = files.map((f) => ({ slug: f.slice(0, -3), name: f, text: readFileSync(join(dir, 'corpus', f), 'utf8') }));
  const folded = new Map(documents.map((d) => [d.slug, fold(d.text)]));
  const raw = JSON.parse(readFileSync(join(dir, 'questions.json'), 'utf8'));
  const problems = [];
  const seen = new Set();
  const order = [...new Set(raw.map((q) => q.doc))];
  const questions = raw.map((q, i) => {
    const id = `${q.doc}/${q.style}`;
    if (!folded.has(q.doc)) problems.push(`${id}: no document corpus/${q.doc}.md`);
    if (!STYLES.includes(q.style)) problems.push(`${id}: style must be one of ${STYLES.join(', ')}`);
    if (seen.has(id)) problems.push(`${id}: two questions of one style for one document`);
    seen.add(id);
    if (q.style === 'two-word' && q.query.trim().split(/\s+/).length !== 2) problems.push(`${id}: "${q.query}" is not two words`);
    const ev = fold(q.evidence ?? '');
    if (ev.length < 8) problems.push(`${id}: evidence is missing or too short`);
    const holders = [...folded].filter(([, text]) => text.includes(ev)).map(([slug]) => slug);
    if (holders.length !== 1 || holders[0] !== q.doc) {
      problems.push(`${id}: evidence "${q.evidence}" occurs in ${holders.length ? holders.join(', ') : 'no document'} (must be exactly ${q.doc})`);
    }
    return { id, index: i, doc: q.doc, style: q.style, query: q.query, evidence: q.evidence, split: order.indexOf(q.doc) % 2 === 0 ? 'tune' : 'held-out' };
  });
  const unused = documents.filter((d) => !order.includes(d.slug)).map((d) => d.slug);
  if (unused.length) problems.push(`documents without questions: ${unused.join(', ')}`);
  return { documents, questions, problems };
}
