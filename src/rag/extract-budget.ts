/**
 * The processing budget of one document's extraction and chunking. Every parser is linear
 * in its input, but a document can still ask for a lot of work (a PDF whose page tree
 * repeats one page, a file built to be slow), and on Cloudflare a queue consumer that runs
 * past its CPU limit fails its whole batch — other tenants' messages included. So each
 * document gets a budget, and overrunning it fails THAT document with a clear error.
 *
 * Two measures, because neither alone holds everywhere:
 * - work units, charged by the parsers (about one per character they pass over, a fixed
 *   amount per PDF page): deterministic, and the only measure that advances in production,
 *   where Workers freeze `Date.now()` during synchronous execution (it moves on I/O only);
 * - a wall-clock deadline, checked whenever units are charged: it catches slow work between
 *   awaits (pdf.js page by page) and whatever the unit estimates miss.
 */

/** Work units per byte of the original, on top of BASE: a linear pass over text costs ~1 unit per character. */
export const WORK_UNITS_PER_BYTE = 32;
/** Work units every document gets whatever its size (small files may legitimately expand, e.g. compressed PDF streams). */
export const BASE_WORK_UNITS = 2_000_000;
/** Units charged for each PDF page opened, besides its text: pdf.js parses the page's objects and content stream. */
export const PDF_PAGE_WORK_UNITS = 5_000;
/** Wall-clock ceiling for extracting and chunking one document (the consumer's CPU limit is 30 s per invocation). */
export const EXTRACTION_DEADLINE_MS = 10_000;

/** Extraction stopped by a limit (budget, pages, chunks); the message is fit for `document.error`. */
export class ExtractionLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtractionLimitError';
  }
}

export class ExtractionBudget {
  private used = 0;
  private readonly deadline: number;

  constructor(
    readonly units: number,
    deadlineMs: number = EXTRACTION_DEADLINE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.deadline = now() + deadlineMs;
  }

  /** The budget for an original of `bytes` bytes. */
  static forBytes(bytes: number, deadlineMs?: number): ExtractionBudget {
    return new ExtractionBudget(BASE_WORK_UNITS + WORK_UNITS_PER_BYTE * bytes, deadlineMs);
  }

  /** A budget that never runs out (unit tests of the parsers themselves). */
  static unlimited(): ExtractionBudget {
    return new ExtractionBudget(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /** Takes `units` of work; throws ExtractionLimitError once the units or the time are spent. */
  charge(units: number): void {
    this.used += units;
    if (this.used > this.units || this.now() > this.deadline) {
      throw new ExtractionLimitError(
        'Extracting the text needed more processing than a document of this size may use, and was stopped ' +
          '(very long lines, deeply repeated structure or unterminated markup can cause this).',
      );
    }
  }

  /** Units charged so far. */
  get spent(): number {
    return this.used;
  }
}
