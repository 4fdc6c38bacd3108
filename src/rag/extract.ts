/**
 * Text extraction for ingestion: plain text, Markdown, HTML and PDF become a list of
 * blocks that keep the structure chunking needs (headings, paragraphs, pages).
 */
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

/** Canonical text for hashing and chunking: NFC, LF line ends, no trailing spaces, ≤ 2 blank lines. */
export function normaliseText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\u00a0]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Decodes bytes as UTF-8 (invalid sequences become U+FFFD rather than failing). */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

export const isPdf = (bytes: Uint8Array) => bytes.length > 4 && bytes[0] === 0x25 && bytes[1] === 0x50 && bytes[2] === 0x44 && bytes[3] === 0x46;

/** Extracts blocks from an original of a supported type. */
export async function extractBlocks(bytes: Uint8Array, mime: SupportedMime): Promise<Block[]> {
  switch (mime) {
    case 'application/pdf':
      return pdfBlocks(bytes);
    case 'text/html':
      return markdownBlocks(htmlToMarkdown(decodeUtf8(bytes)));
    case 'text/markdown':
      return markdownBlocks(normaliseText(decodeUtf8(bytes)));
    default:
      return plainBlocks(normaliseText(decodeUtf8(bytes)), null, null);
  }
}

function plainBlocks(text: string, heading: string | null, page: number | null): Block[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => ({ text: p, heading, page, kind: 'paragraph' as const }));
}

/** ATX (`## Title`) and setext (`Title\n====`) headings, fenced code kept whole. */
export function markdownBlocks(text: string): Block[] {
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
    path.push(title.trim());
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (fence) {
      if (line.trim().startsWith(fence.marker)) {
        out.push({ text: fence.lines.join('\n'), heading: heading(), page: null, kind: 'code' });
        fence = null;
      } else fence.lines.push(line);
      continue;
    }
    const f = line.match(/^\s*(```+|~~~+)/);
    if (f) {
      flush();
      fence = { marker: f[1]!, lines: [line] };
      continue;
    }
    const atx = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (atx) {
      setHeading(atx[1]!.length, atx[2]!);
      continue;
    }
    const next = lines[i + 1];
    if (next !== undefined && line.trim() && para.length === 0 && /^\s{0,3}(=+|-+)\s*$/.test(next)) {
      setHeading(next.trim().startsWith('=') ? 1 : 2, line);
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

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * HTML to Markdown-ish text: drops script/style/head and comments, turns h1–h6 into
 * `#` headings and block elements into paragraph breaks, removes the remaining tags.
 * Enough structure for chunking; not a renderer.
 */
export function htmlToMarkdown(html: string): string {
  let s = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|noscript|template|svg|head|nav|footer)\b[\s\S]*?<\/\1\s*>/gi, ' ');
  s = s.replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_m, level: string, inner: string) => {
    const title = decodeEntities(inner.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
    return title ? `\n\n${'#'.repeat(Number(level))} ${title}\n\n` : '\n\n';
  });
  s = s
    .replace(/<pre\b[^>]*>([\s\S]*?)<\/pre\s*>/gi, (_m, inner: string) => `\n\n\`\`\`\n${decodeEntities(inner.replace(/<[^>]+>/g, ''))}\n\`\`\`\n\n`)
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/?(p|div|section|article|main|aside|header|ul|ol|table|tr|blockquote|dl|dt|dd|figure|figcaption|form|fieldset)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?(td|th)\b[^>]*>/gi, ' | ')
    .replace(/<[^>]+>/g, ' ');
  s = decodeEntities(s)
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n');
  return normaliseText(s);
}

async function pdfBlocks(bytes: Uint8Array): Promise<Block[]> {
  // Loaded on first use: pdf.js is large and most documents are not PDFs.
  const { extractText, getDocumentProxy } = await import('unpdf');
  const pdf = await getDocumentProxy(new Uint8Array(bytes));
  const { text } = await extractText(pdf, { mergePages: false });
  const pages = Array.isArray(text) ? text : [text];
  return pages.flatMap((pageText, i) => plainBlocks(normaliseText(pageText.replace(/[ \t]+\n/g, '\n')), null, i + 1));
}
