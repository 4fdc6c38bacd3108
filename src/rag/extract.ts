/**
 * Text extraction for ingestion: plain text, Markdown, HTML and PDF become a list of
 * blocks that keep the structure chunking needs (headings, paragraphs, pages).
 *
 * Every parser here is linear in its input: tenant text never meets a regex that can
 * backtrack (nested or adjacent unbounded quantifiers, lazy matches to a terminator that may
 * never come). The ones that did were quadratic or worse and held requests and the queue
 * consumer for seconds to minutes (issue 9). src/rag/document-text.ts applies the limits.
 */
import { ExtractionBudget, PDF_PAGE_WORK_UNITS } from './extract-budget';

export type SupportedMime = 'text/plain' | 'text/markdown' | 'text/html' | 'application/pdf';
export const SUPPORTED_MIME: readonly SupportedMime[] = ['text/plain', 'text/markdown', 'text/html', 'application/pdf'];

export interface Block {
  text: string;
  /** The heading path in force ("Guide › Refunds"), for citations. */
  heading: string | null;
  /** 1-based PDF page. */
  page: number | null;
  /** Code and tables are never split mid-line by sentence rules. */
  kind: 'paragraph' | 'code';
}

const EXT: Record<string, SupportedMime> = {
  txt: 'text/plain', text: 'text/plain', md: 'text/markdown', markdown: 'text/markdown', mdx: 'text/markdown',
  html: 'text/html', htm: 'text/html', xhtml: 'text/html', pdf: 'application/pdf',
};

/**
 * The supported type of a source from its declared content type and/or its name
 * (`notes.md`, `https://x/y.pdf`); null when neither says something we can read.
 */
export function detectMime(declared: string | null | undefined, name: string | null | undefined): SupportedMime | null {
  const type = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  const fromType: Record<string, SupportedMime> = {
    'text/plain': 'text/plain', 'text/markdown': 'text/markdown', 'text/x-markdown': 'text/markdown',
    'text/html': 'text/html', 'application/xhtml+xml': 'text/html', 'application/pdf': 'application/pdf',
  };
  const ext = (name ?? '').toLowerCase().replace(/[?#].*$/, '').match(/\.([a-z0-9]+)$/)?.[1];
  const fromName = ext ? EXT[ext] : undefined;
  if (type && fromType[type]) {
    // A generic text/plain upload named *.md is Markdown.
    if (type === 'text/plain' && fromName === 'text/markdown') return fromName;
    return fromType[type]!;
  }
  if (!type || type === 'application/octet-stream' || type === 'binary/octet-stream') return fromName ?? (type ? null : 'text/plain');
  return null;
}

/** Horizontal blanks normaliseText strips at line ends (the set the content hash has always used). */
const isTrailingBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0xa0;
/** Line terminators after which blanks count as trailing (JS multiline `$`: \n, U+2028, U+2029; \r is gone by then). */
const isLineEnd = (c: number) => c === 0x0a || c === 0x2028 || c === 0x2029;

/**
 * Strips spaces, tabs and NBSPs at the end of every line, in one pass. The regex it replaces
 * (`/[ \t\u00a0]+$/gm`) retried from every blank of a run that does not end a line: quadratic,
 * 12 s for "a" + 60,000 spaces + "b". Same output, so content hashes do not change.
 */
function stripTrailingBlanks(s: string): string {
  const parts: string[] = [];
  let lineStart = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : -1;
    if (c !== -1 && !isLineEnd(c)) continue;
    let end = i;
    // Only this line's own trailing run is walked back over: linear overall.
    while (end > lineStart && isTrailingBlank(s.charCodeAt(end - 1))) end--;
    parts.push(s.slice(lineStart, end));
    if (c !== -1) parts.push(s[i]!);
    lineStart = i + 1;
  }
  return parts.join('');
}

/**
 * Canonical text for hashing and chunking: NFC, LF line ends, no trailing spaces, ≤ 2 blank
 * lines. Linear in the text (it runs on the request path, before the content hash).
 */
export function normaliseText(text: string): string {
  return stripTrailingBlanks(text.normalize('NFC').replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n'))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Decodes bytes as UTF-8 (invalid sequences become U+FFFD rather than failing). */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

export const isPdf = (bytes: Uint8Array) => bytes.length > 4 && bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46;

/** Longest heading title kept (characters): a heading travels with every chunk of its section and into its embedding. */
export const MAX_HEADING_CHARS = 200;

/**
 * Extracts blocks from a text original (plain text, Markdown, HTML). PDFs are read page by
 * page with pdfPages(). Every parser is linear in its input; `budget` is charged as they go.
 */
export function extractTextBlocks(bytes: Uint8Array, mime: Exclude<SupportedMime, 'application/pdf'>, budget = ExtractionBudget.unlimited()): Block[] {
  const text = decodeUtf8(bytes);
  budget.charge(text.length);
  switch (mime) {
    case 'text/html':
      return markdownBlocks(htmlToMarkdown(text, budget), budget);
    case 'text/markdown':
      return markdownBlocks(text, budget);
    default:
      return plainBlocks(normaliseText(text), null, null, budget);
  }
}

/** Blocks of a plain text: paragraphs separated by blank (whitespace-only) lines. */
function plainBlocks(text: string, heading: string | null, page: number | null, budget: ExtractionBudget): Block[] {
  const out: Block[] = [];
  let para: string[] = [];
  const flush = () => {
    const t = para.join('\n').trim();
    if (t) out.push({ text: t, heading, page, kind: 'paragraph' });
    para = [];
  };
  for (const line of text.split('\n')) {
    budget.charge(line.length + 1);
    if (line.trim()) para.push(line);
    else flush();
  }
  flush();
  return out;
}

/** JS `\s` (what trim() removes), one UTF-16 unit at a time. */
const isSpace = (ch: string | undefined) => ch !== undefined && ch.trim() === '';

/** Up to three leading spaces, as CommonMark allows before a heading or fence; -1 when there are more. */
function indentOf(line: string): number {
  let i = 0;
  while (i < line.length && isSpace(line[i])) i++;
  return i <= 3 ? i : -1;
}

/** A title cut to MAX_HEADING_CHARS characters. */
function capHeading(title: string): string {
  const chars = Array.from(title.length > MAX_HEADING_CHARS * 2 ? title.slice(0, MAX_HEADING_CHARS * 2) : title);
  return chars.length > MAX_HEADING_CHARS ? `${chars.slice(0, MAX_HEADING_CHARS - 1).join('').trimEnd()}…` : title;
}

/**
 * An ATX heading (`## Title ##`): level and title, or null. A scan, not a regex: the pattern
 * it replaces (`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`) was about cubic in the line's length
 * ("# a" + 3,500 spaces + "b" held the consumer 6 s). The closing #s go only when a space
 * precedes them (CommonMark), so `# C#` stays "C#".
 */
export function atxHeading(line: string): { level: number; title: string } | null {
  const indent = indentOf(line);
  if (indent < 0 || line[indent] !== '#') return null;
  let level = 0;
  while (line[indent + level] === '#') level++;
  if (level > 6 || !isSpace(line[indent + level])) return null;
  let title = line.slice(indent + level).trim();
  let end = title.length;
  while (end > 0 && title[end - 1] === '#') end--;
  if (end === 0) title = '';
  else if (end < title.length && isSpace(title[end - 1])) title = title.slice(0, end).trimEnd();
  return { level, title };
}

/** A setext underline (`===` or `---`, up to three spaces before, blanks after): its level, or 0. */
function setextLevel(line: string): 0 | 1 | 2 {
  const indent = indentOf(line);
  if (indent < 0) return 0;
  const rest = line.slice(indent).trimEnd();
  const ch = rest[0];
  if (ch !== '=' && ch !== '-') return 0;
  for (let i = 1; i < rest.length; i++) if (rest[i] !== ch) return 0;
  return ch === '=' ? 1 : 2;
}

/** The marker opening a fenced code block (``` or ~~~, 3 or more), or null. */
function fenceMarker(line: string): string | null {
  const t = line.trimStart();
  const ch = t[0];
  if (ch !== '`' && ch !== '~') return null;
  let n = 0;
  while (t[n] === ch) n++;
  return n >= 3 ? t.slice(0, n) : null;
}

/** ATX (`## Title`) and setext (`Title\n====`) headings, fenced code kept whole. Linear in the text. */
export function markdownBlocks(text: string, budget = ExtractionBudget.unlimited()): Block[] {
  const lines = normaliseText(text).split('\n');
  const path: string[] = [];
  const out: Block[] = [];
  let para: string[] = [];
  let fence: { marker: string; lines: string[] } | null = null;
  const heading = () => (path.length ? path.filter(Boolean).join(' › ') : null);
  const flush = () => {
    const t = para.join('\n').trim();
    if (t) out.push({ text: t, heading: heading(), page: null, kind: 'paragraph' });
    para = [];
  };
  const setHeading = (level: number, title: string) => {
    flush();
    path.length = Math.min(path.length, level - 1);
    while (path.length < level - 1) path.push('');
    path.push(capHeading(title.trim()));
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    budget.charge(line.length + 1);
    if (fence) {
      if (line.trim().startsWith(fence.marker)) {
        out.push({ text: fence.lines.join('\n'), heading: heading(), page: null, kind: 'code' });
        fence = null;
      } else fence.lines.push(line);
      continue;
    }
    const marker = fenceMarker(line);
    if (marker) {
      flush();
      fence = { marker, lines: [line] };
      continue;
    }
    const atx = atxHeading(line);
    if (atx) {
      setHeading(atx.level, atx.title);
      continue;
    }
    const next = lines[i + 1];
    const underline = next !== undefined && line.trim() && para.length === 0 ? setextLevel(next) : 0;
    if (underline) {
      setHeading(underline, line);
      i++;
      continue;
    }
    if (!line.trim()) flush();
    else para.push(line);
  }
  if (fence) out.push({ text: fence.lines.join('\n'), heading: heading(), page: null, kind: 'code' });
  flush();
  return out;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…', copy: '©', reg: '®', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“' };

/** Decodes character references. Bounded repetitions: a long run of letters after `&` is scanned once. */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]{1,8}|#\d{1,8}|[a-z]{1,32});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Elements whose whole content is dropped. */
const DROPPED = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head', 'nav', 'footer']);
/** Elements that break paragraphs. */
const BLOCK_ELEMENTS = new Set([
  'p', 'div', 'section', 'article', 'main', 'aside', 'header', 'ul', 'ol', 'table', 'tr', 'blockquote', 'dl', 'dt', 'dd',
  'figure', 'figcaption', 'form', 'fieldset',
]);
const isNameStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x3a || c === 0x5f;

/**
 * HTML to Markdown-ish text: drops script/style/head/nav/footer (and similar) and comments,
 * turns h1–h6 into `#` headings, pre into fenced code and block elements into paragraph
 * breaks, removes the remaining tags. Enough structure for chunking; not a renderer.
 *
 * A single forward scan (every search moves forward and an unterminated construct ends the
 * scan, as in a browser, where it swallows the rest of the file), so linear in the input.
 * The regexes it replaces rescanned to the end of the file for every unterminated comment,
 * script or tag: quadratic on 200 KB of `<!--` or `<a`.
 */
export function htmlToMarkdown(html: string, budget = ExtractionBudget.unlimited()): string {
  budget.charge(html.length);
  const out: string[] = [];
  // Text inside an open <hN> or <pre>: emitted when the element closes.
  let open: { kind: 'heading'; level: number; parts: string[] } | { kind: 'pre'; parts: string[] } | null = null;
  const text = (t: string) => (open ? open.parts.push(t) : out.push(t));
  // Position of the next '>' at or after the cursor; -1 once there is none (then no tag can close).
  let gt = -2;
  const nextGt = (from: number) => {
    if (gt !== -1 && gt < from) gt = html.indexOf('>', from);
    return gt;
  };
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      text(decodeEntities(html.slice(i)));
      break;
    }
    if (lt > i) text(decodeEntities(html.slice(i, lt)));
    i = lt;
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i + 4);
      if (end < 0) break; // an unterminated comment runs to the end of the file
      text(' ');
      i = end + 3;
      continue;
    }
    const c1 = html.charCodeAt(i + 1);
    const closing = c1 === 0x2f; // '/'
    const nameAt = closing ? i + 2 : i + 1;
    if (c1 === 0x21 || c1 === 0x3f) {
      // <!DOCTYPE …>, <![CDATA[ … ]]>, <?xml … ?>: skipped to the next '>'.
      const end = nextGt(i);
      if (end < 0) break;
      text(' ');
      i = end + 1;
      continue;
    }
    if (!isNameStart(html.charCodeAt(nameAt))) {
      text('<'); // not a tag: "a < b", "<3"
      i++;
      continue;
    }
    let nameEnd = nameAt;
    while (nameEnd < html.length && isNameChar(html.charCodeAt(nameEnd))) nameEnd++;
    const name = html.slice(nameAt, nameEnd).toLowerCase();
    const end = nextGt(nameEnd);
    if (end < 0) break; // a tag never closed: the rest of the file is inside it
    i = end + 1;
    if (!closing && DROPPED.has(name)) {
      const close = closingTag(html, name, i);
      if (close < 0) break; // unterminated <script>: nothing after it is text
      const after = nextGt(close);
      if (after < 0) break;
      text(' ');
      i = after + 1;
      continue;
    }
    const heading = /^h[1-6]$/.test(name) ? Number(name[1]) : 0;
    if (open?.kind === 'heading') {
      if (closing && heading === open.level) {
        const title = open.parts.join('').replace(/\s+/g, ' ').trim();
        const level = open.level;
        open = null;
        out.push(title ? `\n\n${'#'.repeat(level)} ${title}\n\n` : '\n\n');
      } else text(' ');
      continue;
    }
    if (open?.kind === 'pre') {
      if (closing && name === 'pre') {
        const code = open.parts.join('');
        open = null;
        out.push(`\n\n\`\`\`\n${code}\n\`\`\`\n\n`);
      }
      continue; // tags inside <pre> are removed, not replaced by spaces
    }
    if (heading && !closing) open = { kind: 'heading', level: heading, parts: [] };
    else if (name === 'pre' && !closing) open = { kind: 'pre', parts: [] };
    else if (name === 'br') out.push('\n');
    else if (name === 'li' && !closing) out.push('\n- ');
    else if (BLOCK_ELEMENTS.has(name)) out.push('\n\n');
    else if (name === 'td' || name === 'th') out.push(' | ');
    else out.push(' ');
  }
  // An element still open at the end of the file is plain text, as if it had no tag.
  if (open) out.push(open.parts.join(''));
  const lines = out.join('').split('\n');
  budget.charge(lines.length);
  return normaliseText(lines.map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim()).join('\n'));
}

/** Index of the `</name` that closes a dropped element, searching forward from `from`; -1 if none. */
function closingTag(html: string, name: string, from: number): number {
  for (let p = html.indexOf('</', from); p >= 0; p = html.indexOf('</', p + 2)) {
    if (html.slice(p + 2, p + 2 + name.length).toLowerCase() === name && !isNameChar(html.charCodeAt(p + 2 + name.length))) return p;
  }
  return -1;
}

/** Page tree and text of an opened PDF, read one page at a time. */
export interface PdfPages {
  /** Pages the document declares (pdf.js reads the page tree's /Count): checked against the cap before any page is read. */
  readonly numPages: number;
  /** Blocks of one page (1-based); the budget is charged for the page and its text. */
  page(n: number): Promise<Block[]>;
  close(): Promise<void>;
}

/** Opens a PDF for reading page by page (pdf.js through unpdf, loaded on first use). */
export async function openPdf(bytes: Uint8Array, budget = ExtractionBudget.unlimited()): Promise<PdfPages> {
  // Loaded on first use: pdf.js is large and most documents are not PDFs.
  const { getDocumentProxy } = await import('unpdf');
  const pdf = await getDocumentProxy(new Uint8Array(bytes));
  return {
    numPages: pdf.numPages,
    async page(n: number): Promise<Block[]> {
      budget.charge(PDF_PAGE_WORK_UNITS);
      const page = await pdf.getPage(n);
      try {
        const content = await page.getTextContent();
        const parts: string[] = [];
        for (const item of content.items) {
          if (!('str' in item) || item.str == null) continue;
          parts.push(item.str, item.hasEOL ? '\n' : '');
        }
        const text = parts.join('');
        budget.charge(text.length);
        return plainBlocks(normaliseText(text), null, n, budget);
      } finally {
        page.cleanup();
      }
    },
    close: () => pdf.loadingTask.destroy(),
  };
}
