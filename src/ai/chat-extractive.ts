/**
 * Offline chat provider: used when no OPENAI_API_KEY is configured (local development,
 * tests, air-gapped installs). It calls no model; the answer is made of the sentences of
 * the top retrieved sources that best match the question, each cited as [n], and it
 * says so — both in the text and in `model` ("extractive-offline"). Deterministic.
 */
import { estimateTokens, type ChatCompletion, type ChatProvider, type ChatRequest, type ChatSource, type ChatStreamEvent } from './chat-types';

export const EXTRACTIVE_MODEL = 'extractive-offline';

const STOPWORDS = new Set(
  ('the and for are but not you all any can had her was one our out day get has him his how man new now old see two way who boy ' +
    'did its let put say she too use what when where which while with would about there their them then they this that these those ' +
    'from have into just like more most much over some such than very your does doing tell please could should also been being each').split(' '),
);

/** Lower-case content words of a text (letters/digits in any script, 3+ characters, no stopwords). */
export function terms(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (w.length >= 3 && !STOPWORDS.has(w)) out.add(w);
  }
  return out;
}

function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.replace(/\s+/g, ' ').replace(/^#+\s*/, '').trim())
    .filter((s) => s.length > 0);
}

function clip(s: string, max = 300): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max - 40))}…`;
}

/** The best-matching sentence of a source and how many question terms it contains. */
function bestSentence(source: ChatSource, q: Set<string>): { text: string; score: number } {
  let best = { text: '', score: -1 };
  for (const s of sentences(source.text)) {
    let score = 0;
    for (const t of terms(s)) if (q.has(t)) score++;
    if (score > best.score) best = { text: s, score };
  }
  return best;
}

/** Builds the extractive answer: the top source always, up to two more that match the question. */
export function extractiveAnswer(question: string, sources: ChatSource[]): string {
  if (sources.length === 0) {
    return 'I could not find anything about this in your documents. (Extractive answer: no language model is configured.)';
  }
  const q = terms(question);
  const lines: string[] = [];
  for (const [i, src] of sources.slice(0, 3).entries()) {
    const best = bestSentence(src, q);
    if (!best.text || (i > 0 && best.score <= 0)) continue;
    lines.push(`- ${clip(best.text)} [${src.n}]`);
  }
  return `Extractive answer (no language model is configured); the most relevant passages from your documents:\n\n${lines.join('\n')}`;
}

/** Splits text into word-sized deltas whose concatenation is exactly the text. */
export function toDeltas(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/);
}

export class ExtractiveChatProvider implements ChatProvider {
  readonly offline = true;

  async complete(req: ChatRequest): Promise<ChatCompletion> {
    const text = extractiveAnswer(req.question, req.sources);
    return {
      text,
      model: EXTRACTIVE_MODEL,
      usage: { promptTokens: estimateTokens(req.messages.map((m) => m.content).join('\n')), completionTokens: estimateTokens(text) },
    };
  }

  async stream(req: ChatRequest): Promise<AsyncIterable<ChatStreamEvent>> {
    const result = await this.complete(req);
    const signal = req.signal;
    return (async function* () {
      for (const delta of toDeltas(result.text)) {
        if (signal?.aborted) return;
        yield { type: 'delta', text: delta } as const;
      }
      yield { type: 'done', ...result } as const;
    })();
  }
}
