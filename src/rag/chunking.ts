/**
 * Chunking (DESIGN §6): by structure first — a heading or a page starts a new section
 * and chunks never straddle two — then by size: paragraphs are packed up to a token
 * budget, long paragraphs are split at sentence (then word) boundaries, and each chunk
 * after the first in a section repeats the end of the previous one (overlap), so a
 * sentence cut at a boundary is still found whole in one of the two.
 */
import { estimateTokens } from '../ai/tokens';
import type { Block } from './extract';
import { ExtractionBudget } from './extract-budget';

export interface ChunkOptions {
  /** Token budget per chunk (estimated tokens). */
  maxTokens: number;
  /** Tokens carried over from the previous chunk of the same section. */
  overlapTokens: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { maxTokens: 320, overlapTokens: 48 };

export interface Chunk {
  index: number;
  text: string;
  heading: string | null;
  page: number | null;
  tokenCount: number;
}

interface Piece {
  text: string;
  tokens: number;
  /** Joins to the previous piece with a blank line (paragraph) or a space (sentence). */
  sep: '\n\n' | ' ' | '\n';
}

/** Splits text into sentences (., !, ? or a line end followed by space/capital), keeping the punctuation. */
function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?。！？])\s+(?=\S)|\n(?=\S)/u)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Pieces of at most `max` tokens: sentences, or runs of words when a sentence is too long. */
function split(block: Block, max: number): Piece[] {
  const total = estimateTokens(block.text);
  if (total <= max) return [{ text: block.text, tokens: total, sep: '\n\n' }];
  const out: Piece[] = [];
  const parts = block.kind === 'code' ? block.text.split('\n') : sentences(block.text);
  let first = true;
  for (const part of parts) {
    const sep = first ? '\n\n' : block.kind === 'code' ? '\n' : ' ';
    first = false;
    const t = estimateTokens(part);
    if (t <= max) {
      out.push({ text: part, tokens: t, sep });
      continue;
    }
    let run: string[] = [];
    let runTokens = 0;
    for (const word of part.split(/\s+/)) {
      const wt = estimateTokens(word);
      if (runTokens + wt > max && run.length) {
        out.push({ text: run.join(' '), tokens: runTokens, sep: out.length ? ' ' : sep });
        run = [];
        runTokens = 0;
      }
      // A single "word" longer than the budget (base64, a URL) is cut by characters.
      if (wt > max) {
        for (let i = 0; i < word.length; i += max * 4) out.push({ text: word.slice(i, i + max * 4), tokens: max, sep: ' ' });
        continue;
      }
      run.push(word);
      runTokens += wt;
    }
    if (run.length) out.push({ text: run.join(' '), tokens: runTokens, sep: ' ' });
  }
  return out;
}

/** The tail of `pieces` worth about `budget` tokens (whole pieces only). */
function overlapTail(pieces: Piece[], budget: number): Piece[] {
  const out: Piece[] = [];
  let n = 0;
  for (let i = pieces.length - 1; i >= 0; i--) {
    const p = pieces[i]!;
    if (n + p.tokens > budget) break;
    out.unshift(p);
    n += p.tokens;
  }
  return out;
}

const join = (pieces: Piece[]) => pieces.map((p, i) => (i === 0 ? p.text : p.sep + p.text)).join('');

/**
 * Chunks the blocks of one document, in order, with consecutive indexes from 0. Linear in the
 * text; `budget` is charged for it (splitting and token estimates pass over each block a few times).
 */
export function chunkBlocks(blocks: Block[], opts: ChunkOptions = DEFAULT_CHUNKING, budget = ExtractionBudget.unlimited()): Chunk[] {
  const chunks: Chunk[] = [];
  let section: Block[] = [];
  const emitSection = () => {
    if (section.length === 0) return;
    const { heading, page } = section[0]!;
    let current: Piece[] = [];
    let tokens = 0;
    let fresh = 0; // pieces in `current` that are not overlap
    const emit = () => {
      if (fresh === 0) return;
      chunks.push({ index: chunks.length, text: join(current), heading, page, tokenCount: tokens });
      current = overlapTail(current, opts.overlapTokens);
      // Overlap never makes a chunk on its own, and never more than half the budget.
      while (current.length && current.reduce((n, p) => n + p.tokens, 0) > opts.maxTokens / 2) current.shift();
      tokens = current.reduce((n, p) => n + p.tokens, 0);
      fresh = 0;
    };
    for (const block of section) {
      for (const piece of split(block, opts.maxTokens)) {
        if (tokens + piece.tokens > opts.maxTokens) emit();
        if (tokens + piece.tokens > opts.maxTokens) {
          current = [];
          tokens = 0;
        }
        current.push(piece);
        tokens += piece.tokens;
        fresh++;
      }
    }
    emit();
    section = [];
  };
  for (const block of blocks) {
    budget.charge(block.text.length * 3);
    const prev = section[0];
    if (prev && (prev.heading !== block.heading || prev.page !== block.page)) emitSection();
    section.push(block);
  }
  emitSection();
  return chunks;
}
