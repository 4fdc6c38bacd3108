/**
 * A streaming ZIP writer (PKWARE APPNOTE 6.3.x, https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT)
 * for tenant exports: entries are STORED (no compression) with a data descriptor after their
 * content (general purpose bit 3), so an entry is written as its bytes arrive, its CRC-32 and
 * size following it, and nothing but the central directory's few bytes per entry is kept in
 * memory. Names are UTF-8 (bit 11). No ZIP64: an archive stops with a clear error beyond
 * 4 GiB or 65,535 entries (docs/lifecycle.md says so).
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as ZIP uses it), continued from `crc` over `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const MAX_32 = 0xffffffff;
const MAX_ENTRIES = 0xffff;
/** Version 2.0: stored entries with data descriptors. */
const VERSION = 20;
const FLAGS = 0x0808; // bit 3: sizes in a data descriptor; bit 11: UTF-8 names

/** Thrown when the archive would need ZIP64. */
export class ZipLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipLimitError';
  }
}

interface CentralEntry {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
}

/** MS-DOS date and time of `d` (ZIP's header format; UTC, as the archive has no time zone). */
function dosTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((Math.max(1980, d.getUTCFullYear()) - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export class ZipWriter {
  private offset = 0;
  private readonly entries: CentralEntry[] = [];
  private readonly stamp: { time: number; date: number };

  /** `sink` receives the archive's bytes in order; it may keep them only until it has passed them on. */
  constructor(private readonly sink: (bytes: Uint8Array) => Promise<void>, modified = new Date()) {
    this.stamp = dosTime(modified);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.offset;
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (this.offset + bytes.length > MAX_32) throw new ZipLimitError('the archive would exceed 4 GiB (ZIP64 is not supported)');
    this.offset += bytes.length;
    await this.sink(bytes);
  }

  /** Writes one entry whose content arrives in pieces. */
  async add(name: string, content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ bytes: number }> {
    if (this.entries.length >= MAX_ENTRIES) throw new ZipLimitError(`the archive would have more than ${MAX_ENTRIES} entries (ZIP64 is not supported)`);
    const nameBytes = new TextEncoder().encode(name);
    const offset = this.offset;
    const header = new DataView(new ArrayBuffer(30));
    header.setUint32(0, 0x04034b50, true);
    header.setUint16(4, VERSION, true);
    header.setUint16(6, FLAGS, true);
    header.setUint16(8, 0, true); // stored
    header.setUint16(10, this.stamp.time, true);
    header.setUint16(12, this.stamp.date, true);
    // CRC and sizes (14..25) are zero here: the data descriptor carries them.
    header.setUint16(26, nameBytes.length, true);
    header.setUint16(28, 0, true);
    await this.write(new Uint8Array(header.buffer));
    await this.write(nameBytes);
    let crc = 0;
    let size = 0;
    for await (const piece of content) {
      if (!piece.length) continue;
      crc = crc32(piece, crc);
      size += piece.length;
      await this.write(piece);
    }
    const descriptor = new DataView(new ArrayBuffer(16));
    descriptor.setUint32(0, 0x08074b50, true);
    descriptor.setUint32(4, crc, true);
    descriptor.setUint32(8, size, true);
    descriptor.setUint32(12, size, true);
    await this.write(new Uint8Array(descriptor.buffer));
    this.entries.push({ name: nameBytes, crc, size, offset });
    return { bytes: size };
  }

  /** Writes the central directory and its end record; the archive is complete after this. */
  async finish(): Promise<void> {
    const start = this.offset;
    for (const e of this.entries) {
      const h = new DataView(new ArrayBuffer(46));
      h.setUint32(0, 0x02014b50, true);
      h.setUint16(4, VERSION, true);
      h.setUint16(6, VERSION, true);
      h.setUint16(8, FLAGS, true);
      h.setUint16(10, 0, true);
      h.setUint16(12, this.stamp.time, true);
      h.setUint16(14, this.stamp.date, true);
      h.setUint32(16, e.crc, true);
      h.setUint32(20, e.size, true);
      h.setUint32(24, e.size, true);
      h.setUint16(28, e.name.length, true);
      // extra, comment, disk number, internal and external attributes: 0 (30..41)
      h.setUint32(42, e.offset, true);
      await this.write(new Uint8Array(h.buffer));
      await this.write(e.name);
    }
    const end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true);
    end.setUint16(8, this.entries.length, true);
    end.setUint16(10, this.entries.length, true);
    end.setUint32(12, this.offset - start, true);
    end.setUint32(16, start, true);
    await this.write(new Uint8Array(end.buffer));
  }
}

/** One entry read back from an archive (tests, tools): name and content. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
  crc: number;
}

/** Reads a complete archive through its central directory (for tests and small archives). */
export function readZip(archive: Uint8Array): ZipEntry[] {
  const v = new DataView(archive.buffer, archive.byteOffset, archive.byteLength);
  let eocd = archive.length - 22;
  while (eocd >= 0 && v.getUint32(eocd, true) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a ZIP archive: no end of central directory');
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (v.getUint32(p, true) !== 0x02014b50) throw new Error('bad central directory entry');
    const crc = v.getUint32(p + 16, true);
    const size = v.getUint32(p + 20, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const offset = v.getUint32(p + 42, true);
    const name = new TextDecoder().decode(archive.subarray(p + 46, p + 46 + nameLen));
    const localName = v.getUint16(offset + 26, true);
    const localExtra = v.getUint16(offset + 28, true);
    const start = offset + 30 + localName + localExtra;
    out.push({ name, data: archive.subarray(start, start + size), crc });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
