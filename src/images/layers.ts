import { createGunzip } from 'node:zlib';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InvalidArgumentError } from '../errors/index.js';
import type { Ingester } from '../content/content.js';
import { sha256, type Digest } from '../util/digest.js';

/** Chain IDs of a stack of layers, bottom first, by the OCI image-spec rule. */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

/**
 * The stream's bytes, gunzipped when they start with the gzip magic. Layers are stored and
 * unpacked uncompressed, so a gzip layer's diff ID is the digest of what this yields.
 */
export async function decompressed(input: Readable): Promise<Readable> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else head = Buffer.concat([head, Buffer.from(next.value)]);
  }
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (done) return;
    for (let n = await iterator.next(); !n.done; n = await iterator.next())
      yield Buffer.from(n.value);
  }
  const raw = Readable.from(rest(), { objectMode: false });
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    return raw.pipe(gunzip);
  }
  return raw;
}

export interface StoredLayer {
  /** sha256 of the uncompressed tar: the diff ID and the stored blob's digest. */
  diffID: Digest;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  /**
   * What Docker reports as a layer's size: the bytes of its regular files plus the lengths of
   * its symlinks' targets, each inode counted once.
   */
  contentSize: number;
  /** Media type of the stored blob; absent for an uncompressed tar (what storeLayer writes). */
  mediaType?: string;
}

/**
 * Writes a layer (tar, gzip or not) to the content store uncompressed, checking on the way that
 * it is a readable tarball. InvalidArgumentError when it is not; nothing is published then.
 */
export async function storeLayer(content: Ingester, input: Readable): Promise<StoredLayer> {
  const writer = await content.writer();
  try {
    let contentSize = 0;
    let storeError: unknown;
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      if (header.type === 'file' || header.type === 'contiguous-file') {
        contentSize += header.size ?? 0;
      } else if (header.type === 'symlink') {
        contentSize += Buffer.byteLength(header.linkname ?? '');
      }
      stream.on('end', () => next());
      stream.resume();
    });
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb): void {
        writer.write(chunk).then(
          () => cb(null, chunk),
          (err: unknown) => {
            storeError = err;
            cb(err instanceof Error ? err : new Error(String(err)));
          },
        );
      },
    });
    try {
      await pipeline(await decompressed(input), tee, extract);
    } catch (err: unknown) {
      // Only the content store's own failures are ours; anything else is a bad upload.
      if (storeError !== undefined) throw storeError;
      const detail = err instanceof Error ? err.message : String(err);
      throw new InvalidArgumentError(`invalid tar stream: ${detail}`, { cause: err });
    }
    const info = await writer.commit();
    return { diffID: info.digest, tarSize: info.size, contentSize };
  } finally {
    await writer.abort();
  }
}

/** A sink that throws away what it is given, for draining streams. */
export function devNull(): Writable {
  return new Writable({
    write(_chunk, _enc, cb): void {
      cb();
    },
  });
}

/**
 * Docker's size of a layer (file bytes and symlink target lengths) read from a stored blob,
 * gzip or not. InvalidArgumentError when it is not a tarball.
 */
export async function layerContentSize(input: Readable): Promise<number> {
  let size = 0;
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    if (header.type === 'file' || header.type === 'contiguous-file') size += header.size ?? 0;
    else if (header.type === 'symlink') size += Buffer.byteLength(header.linkname ?? '');
    stream.on('end', () => next());
    stream.resume();
  });
  try {
    await pipeline(await decompressed(input), extract);
  } catch (err: unknown) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(`invalid tar stream: ${detail}`, { cause: err });
  }
  return size;
}
