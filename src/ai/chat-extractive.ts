/**
 * Offline chat provider: used when no OPENAI_API_KEY is configured (local development,
 * tests, air-gapped installs). It calls no model; the answer is made of the sentences of
 * the top retrieved sources that best match the question, each cited as [n], and it
 * says so — both in the text and in `model` ("extractive-offline"). Sources that share
 * no meaningful word with the question are never quoted. Deterministic.
 */
import { estimateTokens, type ChatCompletion, type ChatProvider, type ChatRequest, type ChatSource, type ChatStreamEvent } from './chat-types';
import { stem, words } from './offline-embeddings';

export const EXTRACTIVE_MODEL = 'extractive-offline';

/** Function words and question fillers: sharing only these with a passage is no evidence of an answer. */
const STOPWORDS = new Set(
  ('the and for are but not you all any can had her was our out get has him his how now see who ' +
    'did its let put say she too what when where which while with would about there their them then they this that these those ' +
    'from have into just like more most much many over some such than very your does doing tell please could should also been being each ' +
    'know want explain give show').split(' '),
);

/**
 * The meaningful terms of a text: words (letters/digits in any script, diacritics folded)
 * of 3+ characters that are not stop words, lightly stemmed as the offline embedder stems
 * them, so "refund" in a question matches "Refunds" in a passage.
 */
export function terms(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of words(text)) {
    if (w.length >= 3 && !STOPWORDS.has(w)) out.add(stem(w));
  }
  return out;
}

const HEADING = /^\s{0,3}#{1,6}(\s|$)/;
const LIST_ITEM = /^\s*(?:[-*+•]|\d{1,3}[.)])\s/;

/**
 * The sentences of a passage. A single line break inside a paragraph is a space (text is
 * often wrapped at a fixed width); only sentence punctuation, a blank line, a heading line
 * or a list item ends a sentence.
 */
export function sentences(text: string): string[] {
  const segments: string[] = [];
  for (const paragraph of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    let current: string[] = [];
    const flush = () => {
      if (current.length) segments.push(current.join(' '));
      current = [];
    };
    for (const line of paragraph.split('\n')) {
      if (HEADING.test(line)) {
        flush();
        segments.push(line.replace(/^\s*#+\s*/, ''));
      } else if (LIST_ITEM.test(line)) {
        // An item starts a sentence; its marker is not part of it (the answer adds its own).
        flush();
        current.push(line.replace(LIST_ITEM, ''));
      } else {
        current.push(line);
      }
    }
    flush();
  }
  return segments
    .flatMap((seg) => seg.split(/(?<=[.!?])\s+/))
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 0);
}

function clip(s: string, max = 300): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max - 40))}…`;
}

/** The best-matching sentence of a source and how many of the question's terms it contains. */
function bestSentence(source: ChatSource, q: Set<string>): { text: string; score: number } {
  let best = { text: '', score: 0 };
  for (const s of sentences(source.text)) {
    let score = 0;
    for (const t of terms(s)) if (q.has(t)) score++;
    if (score > best.score) best = { text: s, score };
  }
  return best;
}

export const NOT_FOUND_ANSWER = 'I could not find anything about this in your documents. (Extractive answer: no language model is configured.)';
/** Sources quoted at most. */
const MAX_QUOTED = 3;

/**
 * Builds the extractive answer: the best sentence of each of the first (up to three)
 * sources, in rank order, that shares a meaningful term with the question. A passage that
 * shares none is not an answer however it was retrieved, so a question nothing matches
 * gets the "could not find" answer rather than a confidently cited unrelated sentence.
 */
export function extractiveAnswer(question: string, sources: ChatSource[]): string {
  const q = terms(question);
  const lines: string[] = [];
  for (const src of sources) {
    if (lines.length >= MAX_QUOTED) break;
    const best = bestSentence(src, q);
    if (best.score > 0) lines.push(`- ${clip(best.text)} [${src.n}]`);
  }
  if (lines.length === 0) return NOT_FOUND_ANSWER;
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
