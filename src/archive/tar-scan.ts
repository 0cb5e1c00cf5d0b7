import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Digest } from '../util/digest.js';

/**
 * Passes a tar stream through unchanged while hashing it (the diff ID) and reading its PAX
 * records as bytes. tar-stream decodes PAX values as UTF-8, which mangles binary extended
 * attributes such as security.capability; this keeps the raw values, one set per entry in the
 * order tar-stream yields entries.
 */
export class TarScanner extends Transform {
  readonly #hash = createHash('sha256');
  #size = 0;
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes of entry data (and padding) still to pass over. */
  #skip = 0;
  /** Bytes of a PAX header body still to collect. */
  #collect = 0;
  #collectType = 0;
  #collected: Buffer[] = [];
  #pendingXattrs: Map<string, Buffer> | undefined;
  #pendingSize: number | undefined;
  readonly #xattrs: (Map<string, Buffer> | undefined)[] = [];

  get size(): number {
    return this.#size;
  }

  digest(): Digest {
    return `sha256:${this.#hash.digest('hex')}`;
  }

  /** The extended attributes of the `index`th entry (0-based), from its PAX header. */
  xattrs(index: number): Map<string, Buffer> | undefined {
    const x = this.#xattrs[index];
    this.#xattrs[index] = undefined;
    return x;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    this.#scan(chunk);
    cb(null, chunk);
  }

  #scan(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length);
        this.#skip -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.#collect > 0) {
        const n = Math.min(this.#collect, data.length);
        this.#collected.push(data.subarray(0, n));
        this.#collect -= n;
        data = data.subarray(n);
        if (this.#collect === 0) this.#finishPax();
        continue;
      }
      const need = 512 - this.#buf.length;
      this.#buf = Buffer.concat([this.#buf, data.subarray(0, need)]);
      data = data.subarray(need);
      if (this.#buf.length === 512) {
        const block = this.#buf;
        this.#buf = Buffer.alloc(0);
        this.#header(block);
      }
    }
  }

  #header(block: Buffer): void {
    if (block.every((b) => b === 0)) return;
    const type = block[156] ?? 0;
    let size = parseNumber(block.subarray(124, 136));
    const padded = (n: number): number => Math.ceil(n / 512) * 512;
    if (type === 0x78 /* x */ || type === 0x67 /* g */) {
      this.#collectType = type;
      this.#collected = [];
      this.#collect = size;
      // The padding after the body is skipped once the body is complete.
      this.#skip = 0;
      this.#padAfterCollect = padded(size) - size;
      if (size === 0) this.#finishPax();
      return;
    }
    if (type === 0x4c /* L */ || type === 0x4b /* K */) {
      this.#skip = padded(size);
      return;
    }
    this.#xattrs.push(this.#pendingXattrs);
    if (this.#pendingSize !== undefined) size = this.#pendingSize;
    this.#pendingXattrs = undefined;
    this.#pendingSize = undefined;
    // As tar-stream does: a directory's size field never announces data.
    this.#skip = type === 0x35 /* 5 */ ? 0 : padded(size);
  }

  #padAfterCollect = 0;

  #finishPax(): void {
    const body = Buffer.concat(this.#collected);
    this.#collected = [];
    this.#skip = this.#padAfterCollect;
    if (this.#collectType !== 0x78) return;
    const { xattrs, size } = parsePax(body);
    this.#pendingXattrs = xattrs.size > 0 ? xattrs : undefined;
    this.#pendingSize = size;
  }
}

function parseNumber(field: Buffer): number {
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte a marker.
    let n = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(body: Buffer): { xattrs: Map<string, Buffer>; size: number | undefined } {
  const xattrs = new Map<string, Buffer>();
  let size: number | undefined;
  let off = 0;
  while (off < body.length) {
    const space = body.indexOf(0x20, off);
    if (space < 0) break;
    const len = parseInt(body.subarray(off, space).toString('latin1'), 10);
    if (!(len > 0) || off + len > body.length) break;
    const record = body.subarray(space + 1, off + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq > 0) {
      const key = record.subarray(0, eq).toString('utf8');
      const value = record.subarray(eq + 1);
      if (key.startsWith('SCHILY.xattr.'))
        xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
      else if (key === 'size') size = parseInt(value.toString('latin1'), 10);
    }
    off += len;
  }
  return { xattrs, size };
}
