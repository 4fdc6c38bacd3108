/** Unit tests: prompt assembly, the extractive answerer and the model policy (pure code, no bindings). */
import { describe, expect, it } from 'vitest';
import { ChatModelPolicy, resolveTemperature } from '../../src/ai/chat';
import { extractiveAnswer, NOT_FOUND_ANSWER, sentences, toDeltas } from '../../src/ai/chat-extractive';
import type { DocumentRow } from '../../src/db/schema';
import { buildPrompt, CITATION_RULES, conversationTitle, DEFAULT_SYSTEM_PROMPT, selectContext, selectHistory } from '../../src/rag/prompt';
import type { Hit } from '../../src/rag/types';

function hit(name: string, text: string, extra: Partial<Hit> = {}): Hit {
  const document = { id: `doc-${name}`, tenantId: 't1', name } as DocumentRow;
  return { chunkId: `chunk-${name}`, documentId: document.id, chunkIndex: 0, text, score: 1, page: null, heading: null, document, ...extra };
}

describe('prompt', () => {
  it('uses the default system prompt, always followed by the citation rules', () => {
    const p = buildPrompt({ history: [], question: 'Q?', hits: [] });
    expect(p.messages[0]).toEqual({ role: 'system', content: `${DEFAULT_SYSTEM_PROMPT}\n\n${CITATION_RULES}` });
    const custom = buildPrompt({ systemPrompt: 'Talk like a pirate.', history: [], question: 'Q?', hits: [] });
    expect(custom.messages[0]!.content).toBe(`Talk like a pirate.\n\n${CITATION_RULES}`);
    expect(custom.messages.at(-1)!.content).toContain('no matching passages');
  });

  it('numbers the sources in rank order with document name, page and heading', () => {
    const p = buildPrompt({
      history: [],
      question: 'What is the SLA?',
      hits: [hit('sla.pdf', 'Uptime is 99.9%.', { page: 3, heading: 'Availability' }), hit('faq.md', 'Support answers in 1 day.')],
    });
    expect(p.sources.map((s) => s.n)).toEqual([1, 2]);
    expect(p.messages.at(-1)!.content).toBe(
      'Sources:\n\n[1] sla.pdf, page 3, Availability\nUptime is 99.9%.\n\n[2] faq.md\nSupport answers in 1 day.\n\nQuestion: What is the SLA?',
    );
    expect(p.hits.map((h) => h.document.name)).toEqual(['sla.pdf', 'faq.md']);
  });

  it('keeps the newest history that fits the budget and never starts with an answer', () => {
    const history = [
      { role: 'user' as const, content: 'old question '.repeat(40) },
      { role: 'assistant' as const, content: 'old answer' },
      { role: 'user' as const, content: 'recent question' },
      { role: 'assistant' as const, content: 'recent answer' },
    ];
    expect(selectHistory(history, 10_000)).toEqual(history);
    expect(selectHistory(history, 30).map((m) => m.content)).toEqual(['recent question', 'recent answer']);
    // Budget for the last answer only: the answer without its question is dropped.
    expect(selectHistory(history, 8)).toEqual([]);
  });

  it('drops lower-ranked sources that do not fit, but always keeps (and clips) the best one', () => {
    const big = 'x'.repeat(4_000);
    const ctx = selectContext([hit('a', big), hit('b', 'small')], 100);
    expect(ctx.hits.map((h) => h.document.name)).toEqual(['a']);
    expect(ctx.sources[0]!.text.length).toBeLessThan(big.length);
    expect(selectContext([hit('a', 'one'), hit('b', 'two')], 1_000).sources.map((s) => s.n)).toEqual([1, 2]);
  });

  it('titles a conversation from its first question', () => {
    expect(conversationTitle('  How do\n refunds   work? ')).toBe('How do refunds work?');
    const long = conversationTitle(`${'alpha beta gamma delta '.repeat(10)}`);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('extractive answers', () => {
  const sources = [
    { n: 1, title: 'refunds.md', text: 'Our office is in Lisbon. Refunds for annual plans are paid within 14 days. Contact billing for help.' },
    { n: 2, title: 'pets.md', text: 'Cats sleep a lot.' },
    { n: 3, title: 'billing.md', text: 'Annual plans renew automatically. Refunds need an invoice number.' },
  ];

  it('quotes the best-matching sentence of the top source and cites it; unrelated sources are left out', () => {
    const a = extractiveAnswer('How fast are refunds for annual plans paid?', sources);
    expect(a).toMatch(/^Extractive answer/);
    expect(a).toContain('- Refunds for annual plans are paid within 14 days. [1]');
    expect(a).not.toContain('[2]');
    expect(a).toContain('[3]');
  });

  it('says so when nothing was found', () => {
    expect(extractiveAnswer('anything', [])).toMatch(/could not find/);
  });

  it('does not answer from sources that share no meaningful word with the question', () => {
    const vacation = [{ n: 1, title: 'holidays.md', text: 'Every Acme employee gets 25 vacation days per calendar year.' }];
    expect(extractiveAnswer('What is the boiling point of mercury?', vacation)).toBe(NOT_FOUND_ANSWER);
    // Stop words and question fillers in common are not a match either.
    expect(extractiveAnswer('What is it, and how does that work for you?', [{ n: 1, title: 'x', text: 'What is it that you do, and how?' }])).toBe(NOT_FOUND_ANSWER);
    // A later source that does match is quoted with its own number.
    const a = extractiveAnswer('How many vacation days?', [{ n: 1, title: 'pets.md', text: 'Cats sleep a lot.' }, { ...vacation[0]!, n: 2 }]);
    expect(a).toContain('- Every Acme employee gets 25 vacation days per calendar year. [2]');
    expect(a).not.toContain('[1]');
    // Words match across light inflection: "refund" / "Refunds".
    expect(extractiveAnswer('refund policy', [{ n: 1, title: 'r', text: 'Refunds are paid within 14 days.' }])).toContain('Refunds are paid within 14 days. [1]');
  });

  it('treats a line break inside a paragraph as a space; punctuation, blank lines, headings and list items end sentences', () => {
    const text = [
      '## Vacation',
      'Every Acme employee gets 25 vacation days per calendar year. Up to five unused days carry',
      'over to the next year and expire on 31 March.',
      '',
      'A new paragraph without a full stop',
      '# Heading line',
      'Text under it',
      '- first item',
      '- second item',
      '  continued',
    ].join('\r\n');
    expect(sentences(text)).toEqual([
      'Vacation',
      'Every Acme employee gets 25 vacation days per calendar year.',
      'Up to five unused days carry over to the next year and expire on 31 March.',
      'A new paragraph without a full stop',
      'Heading line',
      'Text under it',
      'first item',
      'second item continued',
    ]);
    const a = extractiveAnswer('When do unused vacation days expire?', [{ n: 1, title: 'holidays.md', text }]);
    expect(a).toContain('- Up to five unused days carry over to the next year and expire on 31 March. [1]');
  });

  it('splits text into deltas whose concatenation is the text', () => {
    const text = 'Line one [1].\n\n- two  spaces\tand tabs ';
    const d = toDeltas(text);
    expect(d.length).toBeGreaterThan(4);
    expect(d.join('')).toBe(text);
  });
});

describe('model policy', () => {
  it('allows the default and the allowlist; anything else resolves to the default', () => {
    const p = new ChatModelPolicy('gpt-4o-mini', ' gpt-4o , llama-3.1-70b,,gpt-4o-mini');
    expect(p.allowed).toEqual(['gpt-4o-mini', 'gpt-4o', 'llama-3.1-70b']);
    expect(p.isAllowed('llama-3.1-70b')).toBe(true);
    expect(p.isAllowed('gpt-5')).toBe(false);
    expect(p.resolve('gpt-4o')).toBe('gpt-4o');
    expect(p.resolve('gpt-5')).toBe('gpt-4o-mini');
    expect(p.resolve(null)).toBe('gpt-4o-mini');
    expect(new ChatModelPolicy('m', '').allowed).toEqual(['m']);
  });

  it('keeps temperatures within [0, 2]', () => {
    expect(resolveTemperature(0)).toBe(0);
    expect(resolveTemperature(1.5)).toBe(1.5);
    expect(resolveTemperature(7)).toBe(0.2);
    expect(resolveTemperature(null)).toBe(0.2);
  });
});
