import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import { sha256 } from '../util/digest.js';
import type { Store } from './content.js';
import { readBlob, writeBlob, writeStream } from './helpers.js';

export interface ContentSuiteTarget {
  store: Store;
  /** Removes everything the store made. */
  cleanup: () => Promise<void>;
  /**
   * Reopens the store on the same data, as after a crash; given by stores that persist, so
   * that crash leftovers can be checked.
   */
  reopen?: () => Promise<Store>;
  /** Where unfinished writes live, for stores that keep them as files. */
  ingestDir?: string;
}

/** The conformance suite every content store passes. */
export function contentSuite(name: string, make: () => Promise<ContentSuiteTarget>): void {
  const withStore = (fn: (t: ContentSuiteTarget) => Promise<void>) => async () => {
    const target = await make();
    try {
      await fn(target);
    } finally {
      await target.cleanup();
    }
  };

  describe(`content store conformance: ${name}`, () => {
    it(
      'commits a blob and verifies its digest',
      withStore(async ({ store }) => {
        const data = randomBytes(100_000);
        const w = await store.writer();
        await w.write(data.subarray(0, 1000));
        await w.write(data.subarray(1000));
        assert.equal(w.written, data.length);
        const info = await w.commit(sha256(data), data.length);
        assert.equal(info.digest, sha256(data));
        assert.equal(info.size, data.length);
        assert.deepEqual(await readBlob(store, info.digest), data);
        assert.equal((await store.info(info.digest)).size, data.length);
        assert.deepEqual(await fs.readFile(await store.path(info.digest)), data);
        await w.abort();
      }),
    );

    it(
      'commits without an expected digest',
      withStore(async ({ store }) => {
        const info = await writeBlob(store, Buffer.from('hello'));
        assert.equal(info.digest, sha256('hello'));
        const again = await writeStream(
          store,
          Readable.from([Buffer.from('hel'), Buffer.from('lo')]),
        );
        assert.equal(again.digest, info.digest);
      }),
    );

    it(
      'rejects a digest mismatch and publishes nothing',
      withStore(async ({ store }) => {
        const data = Buffer.from('some bytes');
        const wrong = sha256('other bytes');
        await assert.rejects(writeBlob(store, data, wrong), InvalidArgumentError);
        await assert.rejects(store.info(wrong), NotFoundError);
        await assert.rejects(store.info(sha256(data)), NotFoundError);
        assert.deepEqual(await store.list(), []);
        const w = await store.writer();
        await w.write(data);
        await assert.rejects(w.commit(sha256(data), data.length + 1), InvalidArgumentError);
        await assert.rejects(store.info(sha256(data)), NotFoundError);
      }),
    );

    it(
      'lets concurrent writers commit the same blob',
      withStore(async ({ store }) => {
        const data = randomBytes(300_000);
        const digest = sha256(data);
        const infos = await Promise.all(
          Array.from({ length: 8 }, async () => {
            const w = await store.writer();
            for (let off = 0; off < data.length; off += 65536) {
              await w.write(data.subarray(off, off + 65536));
            }
            return w.commit(digest, data.length);
          }),
        );
        for (const info of infos) assert.equal(info.digest, digest);
        assert.deepEqual(await readBlob(store, digest), data);
        assert.equal((await store.list()).length, 1);
      }),
    );

    it(
      'discards an aborted write',
      withStore(async ({ store, ingestDir }) => {
        const w = await store.writer();
        await w.write(Buffer.from('abandoned'));
        await w.abort();
        await w.abort();
        await assert.rejects(w.write(Buffer.from('more')));
        await assert.rejects(store.info(sha256('abandoned')), NotFoundError);
        if (ingestDir) assert.deepEqual(await fs.readdir(ingestDir), []);
      }),
    );

    it(
      'deletes blobs, and NotFoundError for absent ones',
      withStore(async ({ store }) => {
        const info = await writeBlob(store, Buffer.from('to delete'));
        await store.delete(info.digest);
        await assert.rejects(store.info(info.digest), NotFoundError);
        await assert.rejects(store.reader(info.digest), NotFoundError);
        await assert.rejects(store.path(info.digest), NotFoundError);
        await assert.rejects(store.delete(info.digest), NotFoundError);
        await assert.rejects(readBlob(store, info.digest), NotFoundError);
      }),
    );

    it(
      'lists every committed blob',
      withStore(async ({ store }) => {
        const digests = [];
        for (let i = 0; i < 5; i++)
          digests.push((await writeBlob(store, Buffer.from(`blob ${i}`))).digest);
        const pending = await store.writer();
        await pending.write(Buffer.from('not committed'));
        const listed = await store.list();
        assert.deepEqual(listed.map((i) => i.digest).sort(), digests.sort());
        for (const info of listed) assert.ok(info.createdAt instanceof Date);
        await pending.abort();
      }),
    );

    it(
      'refuses malformed digests',
      withStore(async ({ store }) => {
        await assert.rejects(
          store.info('sha256:../../etc/passwd' as `sha256:${string}`),
          InvalidArgumentError,
        );
      }),
    );

    it(
      'sweeps unfinished writes left by a crash',
      withStore(async ({ store, reopen, ingestDir }) => {
        if (!reopen || !ingestDir) {
          // A store without persistence has no crash leftovers; the rest of this test is moot.
          assert.equal(reopen, undefined);
          return;
        }
        const w = await store.writer();
        await w.write(Buffer.from('half a blob'));
        await fs.writeFile(path.join(ingestDir, 'stray'), 'left by a crash');
        const kept = await writeBlob(store, Buffer.from('kept'));
        const reopened = await reopen();
        assert.deepEqual(await fs.readdir(ingestDir), []);
        assert.deepEqual(
          (await reopened.list()).map((i) => i.digest),
          [kept.digest],
        );
        assert.deepEqual(await readBlob(reopened, kept.digest), Buffer.from('kept'));
      }),
    );
  });
}
