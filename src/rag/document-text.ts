/**
 * From a stored original to its chunks, within the document's limits: the processing budget
 * (src/rag/extract-budget.ts), the plan's PDF page cap and the chunk cap. PDFs are refused
 * above the page cap before any page is read, then read and chunked one page at a time, so a
 * document over the chunk cap stops where it crosses it instead of being extracted whole.
 */
import { chunkBlocks, DEFAULT_CHUNKING, type Chunk } from './chunking';
import { extractTextBlocks, openPdf, type SupportedMime } from './extract';
import { ExtractionBudget, ExtractionLimitError } from './extract-budget';

export interface DocumentLimits {
  /** Most chunks one document may produce. */
  maxChunks: number;
  /** Most pages one PDF may declare (plan `maxPdfPages`). */
  maxPdfPages: number;
  budget: ExtractionBudget;
}

const tooManyChunks = (max: number, where = '') => new ExtractionLimitError(`The document produces more than ${max} chunks${where}.`);

/**
 * The chunks of one original, in order with consecutive indexes from 0. Throws
 * ExtractionLimitError (message fit for `document.error`) when a limit stops it; any other
 * error means the file could not be read.
 */
export async function documentChunks(bytes: Uint8Array, mime: SupportedMime, limits: DocumentLimits): Promise<Chunk[]> {
  const { budget, maxChunks } = limits;
  if (mime !== 'application/pdf') {
    const chunks = chunkBlocks(extractTextBlocks(bytes, mime, budget), DEFAULT_CHUNKING, budget);
    if (chunks.length > maxChunks) throw tooManyChunks(maxChunks);
    return chunks;
  }
  const pdf = await openPdf(bytes, budget);
  try {
    // pdf.js takes the page count from the page tree's /Count without walking it: a tree that
    // repeats one child can declare 10⁹ pages in 2 KB. Refused before any page is read.
    if (pdf.numPages > limits.maxPdfPages) {
      throw new ExtractionLimitError(`The PDF has ${pdf.numPages} pages; this plan allows at most ${limits.maxPdfPages} pages per PDF.`);
    }
    const out: Chunk[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      // A page is a section of its own (chunks never straddle pages), so chunking page by
      // page gives the same chunks as chunking the whole document at once.
      for (const c of chunkBlocks(await pdf.page(n), DEFAULT_CHUNKING, budget)) {
        out.push({ ...c, index: out.length });
        if (out.length > maxChunks) throw tooManyChunks(maxChunks, ` (stopped reading at page ${n} of ${pdf.numPages})`);
      }
    }
    return out;
  } finally {
    await pdf.close().catch(() => undefined);
  }
}
