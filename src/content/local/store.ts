import { createHash, randomBytes, type Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError, errnoCode, isNotFound } from '../../errors/index.js';
import { syncDir } from '../../util/atomic.js';
import { hexOf, isDigest, type Digest } from '../../util/digest.js';
import type { Info, Store, Writer } from '../content.js';

/**
 * The local content store. Layout under its root:
 *
 *   blobs/sha256/<hex>   committed blobs, read-only, visible only once verified
 *   ingest/<random>      blobs being written; whatever is here at startup is a crash leftover
 */
export async function newLocalContentStore(root: string): Promise<Store> {
  const store = new LocalStore(path.resolve(root)) satisfies Store;
  await store.open();
  return store;
}

const hexPattern = /^[a-f0-9]{64}$/;

class LocalStore {
  readonly #blobs: string;
  readonly #ingest: string;

  constructor(root: string) {
    this.#blobs = path.join(root, 'blobs', 'sha256');
    this.#ingest = path.join(root, 'ingest');
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#blobs, { recursive: true });
    // berthd is the only writer of its data root, so nothing in ingest/ is still being written.
    await fs.rm(this.#ingest, { recursive: true, force: true });
    await fs.mkdir(this.#ingest, { recursive: true });
  }

  #blobPath(digest: Digest): string {
    if (!isDigest(digest))
      throw new InvalidArgumentError(`invalid digest ${JSON.stringify(digest)}`);
    return path.join(this.#blobs, hexOf(digest));
  }

  async info(digest: Digest): Promise<Info> {
    const file = this.#blobPath(digest);
    try {
      const st = await fs.stat(file);
      return { digest, size: st.size, createdAt: st.mtime };
    } catch (err: unknown) {
      if (isNotFound(err)) throw new NotFoundError(`content ${digest}: not found`, { cause: err });
      throw err;
    }
  }

  async reader(digest: Digest): Promise<Readable> {
    const file = this.#blobPath(digest);
    // Opened before returning, so that absence is reported here and not as a stream error.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, 'r');
    } catch (err: unknown) {
      if (isNotFound(err)) throw new NotFoundError(`content ${digest}: not found`, { cause: err });
      throw err;
    }
    return handle.createReadStream();
  }

  async path(digest: Digest): Promise<string> {
    await this.info(digest);
    return this.#blobPath(digest);
  }

  async writer(): Promise<Writer> {
    const tmp = path.join(this.#ingest, randomBytes(12).toString('hex'));
    const handle = await fs.open(tmp, 'wx', 0o644);
    return new LocalWriter(tmp, handle, (d) => this.#blobPath(d), this.#blobs);
  }

  async list(): Promise<Info[]> {
    const names = (await fs.readdir(this.#blobs)).filter((n) => hexPattern.test(n)).sort();
    const infos: Info[] = [];
    for (const name of names) {
      try {
        const st = await fs.stat(path.join(this.#blobs, name));
        infos.push({ digest: `sha256:${name}`, size: st.size, createdAt: st.mtime });
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
      }
    }
    return infos;
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await fs.unlink(this.#blobPath(digest));
    } catch (err: unknown) {
      if (isNotFound(err)) throw new NotFoundError(`content ${digest}: not found`, { cause: err });
      throw err;
    }
    await syncDir(this.#blobs);
  }
}

class LocalWriter {
  #written = 0;
  #hash: Hash = createHash('sha256');
  #done = false;
  #pending: Promise<void> = Promise.resolve();

  constructor(
    readonly tmp: string,
    readonly handle: fs.FileHandle,
    readonly blobPath: (d: Digest) => string,
    readonly blobsDir: string,
  ) {}

  get written(): number {
    return this.#written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new InvalidArgumentError('content writer is closed');
    // Writes are chained so that concurrent calls still land in call order.
    const next = this.#pending.then(async () => {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await this.handle.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    });
    this.#pending = next.catch(() => undefined);
    this.#hash.update(chunk);
    this.#written += chunk.byteLength;
    await next;
  }

  async commit(expected?: Digest, size?: number): Promise<Info> {
    if (this.#done) throw new InvalidArgumentError('content writer is closed');
    await this.#pending;
    const digest: Digest = `sha256:${this.#hash.digest('hex')}`;
    if (size !== undefined && size !== this.#written) {
      await this.abort();
      throw new InvalidArgumentError(`unexpected commit size ${this.#written}, expected ${size}`);
    }
    if (expected !== undefined && expected !== digest) {
      await this.abort();
      throw new InvalidArgumentError(`unexpected commit digest ${digest}, expected ${expected}`);
    }
    this.#done = true;
    const target = this.blobPath(digest);
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    try {
      await fs.chmod(this.tmp, 0o444);
      // link(2) publishes exclusively: a blob already there (another writer, or an earlier
      // commit) is left as it is and this copy is dropped, since equal digests mean equal bytes.
      await fs.link(this.tmp, target);
    } catch (err: unknown) {
      if (errnoCode(err) !== 'EEXIST') {
        await fs.rm(this.tmp, { force: true });
        throw err;
      }
    }
    await fs.rm(this.tmp, { force: true });
    await syncDir(this.blobsDir);
    const st = await fs.stat(target);
    return { digest, size: st.size, createdAt: st.mtime };
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#pending;
    await this.handle.close().catch(() => undefined);
    await fs.rm(this.tmp, { force: true });
  }
}
