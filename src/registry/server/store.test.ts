import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DistributionError } from './errors.js';
import { OCI_MANIFEST } from './manifest.js';
import type { Sha256 } from './names.js';
import { newFsRegistryStore } from './store.js';

// The filesystem store on its own (no HTTP, no root needed): atomic uploads, what survives a
// restart, deduplication, and mark and sweep with its grace period.

const roots: string[] = [];
after(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

async function tmpRoot(): Promise<string> {
  const r = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-regstore-'));
  roots.push(r);
  return r;
}

function sha(b: Buffer | string): Sha256 {
  return `sha256:${createHash('sha256').update(b).digest('hex')}` as Sha256;
}

async function* chunks(...parts: Buffer[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

async function* failing(first: Buffer): AsyncIterable<Uint8Array> {
  yield first;
  throw new Error('client went away');
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err: unknown) {
    if (err instanceof DistributionError) return err.code;
    throw err;
  }
  return 'none';
}

test('a failed append leaves the upload at its acknowledged offset; the blob appears only on completion', async () => {
  const root = await tmpRoot();
  const store = await newFsRegistryStore(root);
  const data = randomBytes(5000);
  const up = await store.startUpload('a/b');
  await store.appendUpload('a/b', up.uuid, chunks(data.subarray(0, 2000)));
  await assert.rejects(store.appendUpload('a/b', up.uuid, failing(data.subarray(2000, 3000))));
  assert.equal((await store.uploadStatus('a/b', up.uuid)).offset, 2000);
  assert.equal(await codeOf(store.statBlob('a/b', sha(data))), 'BLOB_UNKNOWN');
  await store.appendUpload('a/b', up.uuid, chunks(data.subarray(2000)), { start: 2000 });
  const info = await store.completeUpload('a/b', up.uuid, sha(data));
  assert.deepEqual(info, { digest: sha(data), size: 5000 });
  assert.equal((await store.statBlob('a/b', sha(data))).size, 5000);
  assert.equal(await codeOf(store.uploadStatus('a/b', up.uuid)), 'BLOB_UPLOAD_UNKNOWN');
});

test('an upload survives a restart of the store; bytes past the acknowledged offset are dropped', async () => {
  const root = await tmpRoot();
  const first = await newFsRegistryStore(root);
  const data = randomBytes(3000);
  const up = await first.startUpload('r');
  await first.appendUpload('r', up.uuid, chunks(data.subarray(0, 1000)));
  // What a crash mid-append leaves: bytes in the data file the state never acknowledged.
  await fs.appendFile(path.join(root, 'uploads', up.uuid, 'data'), Buffer.from('garbage'));
  const second = await newFsRegistryStore(root);
  assert.equal((await second.uploadStatus('r', up.uuid)).offset, 1000);
  await second.appendUpload('r', up.uuid, chunks(data.subarray(1000)), {
    start: 1000,
    length: 2000,
  });
  await second.completeUpload('r', up.uuid, sha(data));
  const reader = await second.openBlob('r', sha(data));
  const got: Buffer[] = [];
  for await (const c of reader.stream) got.push(c as Buffer);
  assert.deepEqual(Buffer.concat(got), data);
});

test('a digest mismatch publishes nothing and drops the upload; a wrong length is SIZE_INVALID', async () => {
  const store = await newFsRegistryStore(await tmpRoot());
  const up = await store.startUpload('r');
  await store.appendUpload('r', up.uuid, chunks(Buffer.from('abc')));
  assert.equal(await codeOf(store.completeUpload('r', up.uuid, sha('abd'))), 'DIGEST_INVALID');
  assert.equal(await codeOf(store.statBlob('r', sha('abc'))), 'BLOB_UNKNOWN');
  assert.equal(await codeOf(store.uploadStatus('r', up.uuid)), 'BLOB_UPLOAD_UNKNOWN');
  const up2 = await store.startUpload('r');
  assert.equal(
    await codeOf(store.appendUpload('r', up2.uuid, chunks(Buffer.from('abc')), { length: 5 })),
    'SIZE_INVALID',
  );
  assert.equal((await store.uploadStatus('r', up2.uuid)).offset, 0);
});

async function pushBlob(
  store: Awaited<ReturnType<typeof newFsRegistryStore>>,
  name: string,
  data: Buffer,
): Promise<Sha256> {
  const up = await store.startUpload(name);
  await store.appendUpload(name, up.uuid, chunks(data));
  return (await store.completeUpload(name, up.uuid, sha(data))).digest;
}

test('gc keeps referenced and young blobs, removes old unreferenced ones, never an open upload', async () => {
  const root = await tmpRoot();
  const store = await newFsRegistryStore(root);
  const cfg = Buffer.from('{}');
  const layer = randomBytes(100);
  const orphan = randomBytes(100);
  const c = await pushBlob(store, 'app', cfg);
  const l = await pushBlob(store, 'app', layer);
  const o = await pushBlob(store, 'app', orphan);
  // The same bytes in a second repository: one file, linked twice.
  await pushBlob(store, 'other', layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c, size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: 100 }],
    }),
  );
  const { digest: m } = await store.putManifest(
    'app',
    { kind: 'tag', tag: 'v1' },
    manifest,
    OCI_MANIFEST,
  );
  const open = await store.startUpload('app');
  await store.appendUpload('app', open.uuid, chunks(Buffer.from('partial')));

  // Everything is young: nothing goes.
  let report = await store.gc({ graceMs: 3600_000, uploadMaxAgeMs: Infinity });
  assert.deepEqual(report.blobsRemoved, []);
  // With no grace, only the orphan goes (the layer is referenced through `app`'s manifest).
  report = await store.gc({ graceMs: 0, uploadMaxAgeMs: Infinity, dryRun: true });
  assert.deepEqual(report.blobsRemoved, [o]);
  assert.equal((await store.statBlob('app', o)).size, 100, 'dry run removes nothing');
  report = await store.gc({ graceMs: 0, uploadMaxAgeMs: Infinity });
  assert.deepEqual(report.blobsRemoved, [o]);
  assert.equal(report.bytesFreed, 100);
  assert.equal(await codeOf(store.statBlob('app', o)), 'BLOB_UNKNOWN');
  for (const d of [c, l, m]) assert.ok(await store.statBlob('app', d));
  assert.equal((await store.uploadStatus('app', open.uuid)).offset, 7);
  // Deleting the manifest makes its blobs garbage.
  await store.deleteManifest('app', { kind: 'digest', digest: m });
  report = await store.gc({ graceMs: 0, uploadMaxAgeMs: Infinity });
  assert.deepEqual(new Set(report.blobsRemoved), new Set([c, l, m]));
  assert.equal(await codeOf(store.statBlob('other', l)), 'BLOB_UNKNOWN');
  // Stale uploads go once past their age limit, and so does a session a crash cut short.
  const cut = '0a0a0a0a-0000-4000-8000-000000000000';
  await fs.mkdir(path.join(root, 'uploads', cut));
  report = await store.gc({ graceMs: 0, uploadMaxAgeMs: 0 });
  assert.deepEqual(report.uploadsRemoved.sort(), [open.uuid, cut].sort());
  assert.deepEqual(await fs.readdir(path.join(root, 'uploads')), []);
});
