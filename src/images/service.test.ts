import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { diffTar } from '../archive/archive.js';
import type { Store } from '../content/content.js';
import { writeBlob } from '../content/helpers.js';
import { newLocalContentStore } from '../content/local/store.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { Events } from '../events/events.js';
import { newEventExchange } from '../events/exchange.js';
import { mountAll, unmountAll } from '../mount/mount-linux.js';
import { newOverlaySnapshotter } from '../snapshots/overlay/overlay.js';
import type { Snapshotter } from '../snapshots/snapshotter.js';
import type { EngineEvent } from '../spec/engine.js';
import { sha256 } from '../util/digest.js';
import type { ImageService } from './images.js';
import { newImageService } from './service.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dockerFixture = path.resolve(here, '../../../src/images/testdata/docker-20.10-save.tar');

interface Env {
  base: string;
  content: Store;
  snapshots: Snapshotter;
  events: Events;
  images: ImageService;
  /** Opens the service again on the same stores, as after a restart. */
  reopen(): Promise<ImageService>;
  close(): Promise<void>;
}

async function setup(): Promise<Env> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-images-'));
  const content = await newLocalContentStore(path.join(base, 'content'));
  const snapshots = await newOverlaySnapshotter(path.join(base, 'snapshots'));
  const events = newEventExchange();
  const open = (): Promise<ImageService> =>
    newImageService({ root: path.join(base, 'images'), content, snapshotter: snapshots, events });
  const env: Env = {
    base,
    content,
    snapshots,
    events,
    images: await open(),
    async reopen() {
      env.images = await open();
      return env.images;
    },
    async close() {
      await snapshots.close();
      await fs.rm(base, { recursive: true, force: true });
    },
  };
  return env;
}

interface Entry {
  name: string;
  body?: string;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (b: unknown) => chunks.push(b as Buffer));
  const end = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type: e.type ?? 'file',
        mode: e.type === 'directory' ? 0o755 : 0o644,
        mtime: new Date(0),
        ...(e.linkname ? { linkname: e.linkname } : {}),
      };
      pack.entry(header, e.body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await end;
  return Buffer.concat(chunks);
}

async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (b: unknown) => chunks.push(b as Buffer));
    stream.on('end', () => {
      out.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  await pipeline(Readable.from([buf]), extract);
  return out;
}

/** Reads a path inside a committed snapshot, through a read-only view. */
async function readInSnapshot(env: Env, chainID: string, file: string): Promise<string> {
  const key = `test-view-${Math.random().toString(16).slice(2)}`;
  const target = await fs.mkdtemp(path.join(env.base, 'view-'));
  const mounts = await env.snapshots.view(key, chainID);
  await mountAll(mounts, target);
  try {
    const st = await fs.lstat(path.join(target, file));
    if (st.isSymbolicLink()) return `-> ${await fs.readlink(path.join(target, file))}`;
    return await fs.readFile(path.join(target, file), 'utf8');
  } finally {
    await unmountAll(target);
    await fs.rmdir(target);
    await env.snapshots.remove(key);
  }
}

/** Blobs and berth-owned snapshots that no image record reaches. */
async function orphans(env: Env): Promise<{ blobs: string[]; snapshots: string[] }> {
  const images = await env.images.list();
  const blobs = new Set<string>();
  const snaps = new Set<string>();
  for (const r of images) {
    blobs.add(r.id);
    blobs.add(r.manifest);
    for (const d of r.config.rootfs.diff_ids) blobs.add(d);
    for (const c of r.chainIDs) snaps.add(c);
  }
  return {
    blobs: (await env.content.list()).map((i) => i.digest).filter((d) => !blobs.has(d)),
    snapshots: (await env.snapshots.walk()).map((s) => s.key).filter((k) => !snaps.has(k)),
  };
}

function recorder(events: Events): { events: EngineEvent[]; stop(): Promise<void> } {
  const sub = events.subscribe();
  const seen: EngineEvent[] = [];
  const loop = (async (): Promise<void> => {
    for await (const e of sub) seen.push(e);
  })();
  return {
    events: seen,
    async stop() {
      await new Promise((r) => setImmediate(r));
      sub.close();
      await loop;
    },
  };
}

const noUsers = { inUse: (): boolean => false };

describe('image service on real stores', () => {
  let env: Env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env.close();
  });

  it('bootstraps busybox deterministically and unpacks it with /bin/sh', async () => {
    const img = await env.images.bootstrap('busybox');
    assert.deepEqual(img.repoTags, ['busybox:latest']);
    assert.deepEqual(img.config.config?.Cmd, ['sh']);
    assert.equal(img.chainIDs.length, 1);
    const top = await env.images.unpack(img);
    assert.equal(top, img.chainIDs[0]);
    assert.equal(await readInSnapshot(env, top ?? '', 'bin/sh'), '-> busybox');
    assert.equal(await readInSnapshot(env, top ?? '', 'usr/bin/env'), '-> ../../bin/busybox');
    assert.match(
      await readInSnapshot(env, top ?? '', 'etc/passwd'),
      /^root:x:0:0:root:\/root:\/bin\/sh$/m,
    );
    const st = await env.snapshots.stat(top ?? '');
    assert.equal(st.labels['berth.diffid'], img.config.rootfs.diff_ids[0]);
    // Idempotent, and the same on a fresh root.
    assert.equal((await env.images.bootstrap('busybox')).id, img.id);
    const other = await setup();
    try {
      assert.equal((await other.images.bootstrap('busybox')).id, img.id);
    } finally {
      await other.close();
    }
    assert.equal((await env.images.get('docker.io/library/busybox')).id, img.id);
    assert.equal((await env.images.get(img.id.slice(7, 19))).id, img.id);
  });

  it('bootstrap refuses names it has no recipe for, and tags nothing', async () => {
    const before = (await env.images.summaries(new Map())).length;
    for (const name of ['alpine', 'ubuntu:22.04', 'debian:nosuch', 'debian:bookworm-fat']) {
      await assert.rejects(env.images.bootstrap(name), InvalidArgumentError, name);
    }
    assert.equal((await env.images.summaries(new Map())).length, before);
  });

  it('inspects and lists like dockerd', async () => {
    const img = await env.images.get('busybox');
    const body = await env.images.inspect('busybox:latest');
    assert.deepEqual(Object.keys(body), [
      'Id',
      'RepoTags',
      'RepoDigests',
      'Parent',
      'Comment',
      'Created',
      'DockerVersion',
      'Author',
      'Config',
      'Architecture',
      'Os',
      'Size',
      'GraphDriver',
      'RootFS',
      'Metadata',
    ]);
    assert.equal(body.Id, img.id);
    assert.deepEqual(body.RootFS, { Type: 'layers', Layers: img.config.rootfs.diff_ids });
    const gd = body.GraphDriver as { Name: string; Data: Record<string, string> };
    assert.equal(gd.Name, 'overlay2');
    await fs.access(path.join(gd.Data.UpperDir ?? '', 'bin/busybox'));
    const config = body.Config as Record<string, unknown>;
    assert.equal(config.Hostname, '');
    assert.deepEqual(config.Cmd, ['sh']);
    assert.equal(config.Entrypoint, null);
    const stat = await fs.stat('/bin/busybox');
    assert.ok((body.Size as number) > stat.size && (body.Size as number) < stat.size + 10000);
    const history = await env.images.history('busybox');
    assert.equal(history.length, 2);
    assert.equal(history[0]?.Id, img.id);
    assert.deepEqual(history[0]?.Tags, ['busybox:latest']);
    assert.equal(history[0]?.Size, 0);
    assert.equal(history[1]?.Id, '<missing>');
    assert.equal(history[1]?.Size, img.size);
    const [s] = await env.images.summaries(new Map([[img.id, 2]]));
    assert.equal(s?.Containers, 2);
    assert.equal(s?.Size, img.size);
    assert.deepEqual((await env.images.diskUsage()).layersSize, img.size);
    await assert.rejects(env.images.get('nothere'), (err: unknown) => {
      return err instanceof NotFoundError && err.message === 'No such image: nothere:latest';
    });
    await assert.rejects(env.images.get('Foo'), InvalidArgumentError);
  });

  it('imports a gzip rootfs with --change and a message, tagging it', async () => {
    const rec = recorder(env.events);
    const layer = await makeTar([
      { name: 'app/', type: 'directory' },
      { name: 'app/run.sh', body: 'echo hi\n' },
    ]);
    const img = await env.images.importRootfs(Readable.from([gzipSync(layer)]), {
      reference: 'imported:v1',
      changes: ['CMD ["/app/run.sh"]', 'ENV A=1', 'EXPOSE 8080', 'WORKDIR /app'],
      message: 'from a test',
    });
    await rec.stop();
    assert.deepEqual(img.repoTags, ['imported:v1']);
    assert.equal(img.config.rootfs.diff_ids[0], sha256(layer), 'diff ID of the uncompressed tar');
    assert.deepEqual(img.config.config, {
      Cmd: ['/app/run.sh'],
      Env: ['A=1'],
      ExposedPorts: { '8080/tcp': {} },
      WorkingDir: '/app',
    });
    assert.equal(img.config.comment, 'from a test');
    assert.equal(img.config.history?.[0]?.comment, 'from a test');
    assert.equal(img.size, 8);
    assert.equal(await readInSnapshot(env, img.chainIDs[0] ?? '', 'app/run.sh'), 'echo hi\n');
    assert.deepEqual(
      rec.events.map((e) => [e.Type, e.Action, e.Actor.Attributes.name]),
      [
        ['image', 'tag', 'imported:v1'],
        ['image', 'import', img.id],
      ],
    );
    const plain = await env.images.importRootfs(Readable.from([layer]), {});
    assert.equal(plain.config.comment, 'Imported from -');
    assert.deepEqual(plain.repoTags, []);
  });

  it('refuses bad imports and leaves nothing behind', async () => {
    const before = (await env.images.list()).length;
    const escape = await makeTar([{ name: '../evil', body: 'x' }]);
    await assert.rejects(
      env.images.importRootfs(Readable.from([escape]), {}),
      InvalidArgumentError,
    );
    await assert.rejects(
      env.images.importRootfs(Readable.from([Buffer.from('not a tarball at all, no way')]), {}),
      InvalidArgumentError,
    );
    const ok = await makeTar([{ name: 'f', body: 'x' }]);
    await assert.rejects(
      env.images.importRootfs(Readable.from([ok]), { changes: ['RUN rm -rf /'] }),
      /run is not a valid change command/,
    );
    assert.equal((await env.images.list()).length, before);
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
  });

  it('saves an archive that loads back into a fresh engine', async () => {
    const busybox = await env.images.get('busybox');
    await env.images.tag('busybox', 'mine/box:1');
    const file = path.join(env.base, 'save.tar');
    const rec = recorder(env.events);
    await env.images.save(['busybox', 'mine/box:1'], createWriteStream(file));
    await rec.stop();
    assert.deepEqual(
      rec.events.map((e) => [e.Action, e.Actor.ID]),
      [['save', busybox.id]],
    );
    const entries = await tarEntries(await fs.readFile(file));
    assert.ok(
      entries.has('oci-layout') && entries.has('index.json') && entries.has('repositories'),
    );
    const manifest = JSON.parse(entries.get('manifest.json')?.toString() ?? '') as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.equal(manifest.length, 1);
    assert.equal(manifest[0]?.Config, `blobs/sha256/${busybox.id.slice(7)}`);
    assert.deepEqual(manifest[0]?.RepoTags, ['busybox:latest', 'mine/box:1']);
    for (const [name, body] of entries) {
      if (name.startsWith('blobs/sha256/') && body.length > 0) {
        assert.equal(sha256(body), `sha256:${name.slice('blobs/sha256/'.length)}`);
      }
    }
    const other = await setup();
    try {
      const result = await other.images.load(createReadStream(file));
      assert.deepEqual(result.messages, [
        'Loaded image: busybox:latest',
        'Loaded image: mine/box:1',
      ]);
      const loaded = await other.images.get('mine/box:1');
      assert.equal(loaded.id, busybox.id);
      assert.equal(loaded.size, busybox.size);
      assert.equal(await readInSnapshot(other, loaded.chainIDs[0] ?? '', 'bin/sh'), '-> busybox');
      // Loading the same again is harmless; an untagged save loads by ID.
      const byId = path.join(env.base, 'by-id.tar');
      await env.images.save([busybox.id], createWriteStream(byId));
      assert.deepEqual((await other.images.load(createReadStream(byId))).messages, [
        `Loaded image ID: ${busybox.id}`,
      ]);
    } finally {
      await other.close();
    }
  });

  it('loads a pure OCI layout, tags from its annotations', async () => {
    const layer = await makeTar([{ name: 'oci-file', body: 'oci\n' }]);
    const gz = gzipSync(layer);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/oci-file'] },
        rootfs: { type: 'layers', diff_ids: [sha256(layer)] },
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: sha256(config),
          size: config.length,
        },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            digest: sha256(gz),
            size: gz.length,
          },
        ],
      }),
    );
    const index = JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(manifest),
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'localhost:5000/oci/img:2' },
        },
      ],
    });
    const blob = (b: Buffer): Entry => ({
      name: `blobs/sha256/${sha256(b).slice(7)}`,
      body: b.toString('latin1'),
    });
    const pack = async (entries: Entry[]): Promise<Buffer> => {
      // makeTar writes strings as utf8; carry binary blobs through latin1 faithfully.
      const p = tar.pack();
      const chunks: Buffer[] = [];
      p.on('data', (b: unknown) => chunks.push(b as Buffer));
      const end = new Promise<void>((r) => p.on('end', () => r()));
      for (const e of entries) {
        p.entry({ name: e.name }, Buffer.from(e.body ?? '', 'latin1'));
      }
      p.finalize();
      await end;
      return Buffer.concat(chunks);
    };
    const archive = await pack([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', body: index },
      blob(config),
      blob(manifest),
      blob(gz),
    ]);
    const result = await env.images.load(Readable.from([archive]));
    assert.deepEqual(result.messages, ['Loaded image: localhost:5000/oci/img:2']);
    const img = await env.images.get('localhost:5000/oci/img:2');
    assert.equal(img.id, sha256(config));
    assert.equal(await readInSnapshot(env, img.chainIDs[0] ?? '', 'oci-file'), 'oci\n');

    // A blob that does not match its name: refused, nothing stored.
    const before = (await env.images.list()).length;
    const tampered = await pack([
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', body: index },
      blob(config),
      blob(manifest),
      { name: `blobs/sha256/${sha256(gz).slice(7)}`, body: 'tampered' },
    ]);
    await assert.rejects(env.images.load(Readable.from([tampered])), (err: unknown) => {
      return err instanceof InvalidArgumentError && /does not match its digest/.test(err.message);
    });
    const escaping = await pack([{ name: '../../etc/evil', body: 'x' }]);
    await assert.rejects(env.images.load(Readable.from([escaping])), /points outside the archive/);
    await assert.rejects(
      env.images.load(Readable.from([await pack([{ name: 'x', body: 'y' }])])),
      /^InvalidArgumentError: invalid archive: neither/,
    );
    assert.equal((await env.images.list()).length, before);
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
    assert.deepEqual(await fs.readdir(path.join(env.base, 'images', 'tmp')), []);
  });

  it('loads an archive made by docker save (docker 20.10, legacy layout)', async () => {
    const result = await env.images.load(createReadStream(dockerFixture));
    assert.deepEqual(result.messages, ['Loaded image: berth-fixture:v1']);
    const img = await env.images.get('berth-fixture:v1');
    assert.equal(img.id, 'sha256:2fe65f484a0108a07f4aaa0959c3276e79003868818b13210c4387e3e941fff2');
    assert.deepEqual(img.config.config?.Cmd, ['/hello']);
    assert.equal(await readInSnapshot(env, img.chainIDs[0] ?? '', 'hello'), 'hello from docker\n');
    assert.equal(await readInSnapshot(env, img.chainIDs[0] ?? '', 'bin/hi'), '-> ../hello');
    const body = await env.images.inspect('berth-fixture:v1');
    assert.equal(body.Comment, 'fixture');
    assert.equal(body.DockerVersion, '20.10.24+dfsg1');
  });

  it('commits a container diff on top of an image', async () => {
    const parent = await env.images.get('busybox');
    const top = await env.images.unpack(parent);
    const target = await fs.mkdtemp(path.join(env.base, 'ctr-'));
    await mountAll(await env.snapshots.prepare('ctr-1', top), target);
    try {
      await fs.writeFile(path.join(target, 'committed'), 'yes\n');
      await fs.rm(path.join(target, 'etc/group'));
    } finally {
      await unmountAll(target);
      await fs.rmdir(target);
    }
    const upper = await env.snapshots.upperDir('ctr-1');
    const rec = recorder(env.events);
    const img = await env.images.commit({
      parent,
      diff: diffTar({ upperDir: upper ?? '' }),
      config: { Cmd: ['cat', '/committed'], Env: parent.config.config?.Env ?? [] },
      reference: 'committed:1',
      comment: 'a commit',
      author: 'tester',
      changes: ['LABEL made=commit'],
      container: 'c'.repeat(64),
      createdBy: 'sh',
    });
    await rec.stop();
    assert.deepEqual(
      rec.events.map((e) => e.Action),
      ['tag'],
    );
    assert.equal(img.parent, parent.id);
    assert.equal(img.chainIDs.length, 2);
    assert.deepEqual(img.config.config?.Cmd, ['cat', '/committed']);
    assert.deepEqual(img.config.config?.Labels, { made: 'commit' });
    assert.equal(img.config.author, 'tester');
    assert.equal(img.config.history?.length, 3);
    assert.equal(await readInSnapshot(env, img.chainIDs[1] ?? '', 'committed'), 'yes\n');
    await assert.rejects(readInSnapshot(env, img.chainIDs[1] ?? '', 'etc/group'), /ENOENT/);
    const history = await env.images.history('committed:1');
    assert.equal(history[0]?.Id, img.id);
    assert.equal(history[1]?.Id, parent.id);
    assert.equal(history[0]?.Size, 4);
    // The parent has a child now: by ID it cannot go.
    await env.images.tag('busybox', 'parent-alias:1');
    await assert.rejects(
      env.images.remove(parent.id, { force: true, noprune: false, ...noUsers }),
      (err: unknown) =>
        err instanceof ConflictError &&
        err.message ===
          `conflict: unable to delete ${parent.id.slice(7, 19)} (cannot be forced) - image has dependent child images`,
    );
    await env.images.remove('parent-alias:1', { force: false, noprune: false, ...noUsers });
    await env.snapshots.remove('ctr-1');
    const results = await env.images.remove('committed:1', {
      force: false,
      noprune: false,
      ...noUsers,
    });
    assert.deepEqual(results, [
      { Untagged: 'committed:1' },
      { Deleted: img.id },
      { Deleted: img.chainIDs[1] },
    ]);
  });

  it("removes images with dockerd's semantics and collects what they left", async () => {
    const layer = await makeTar([{ name: 'rmi', body: 'x' }]);
    const img = await env.images.importRootfs(Readable.from([layer]), { reference: 'rmi-a:1' });
    await env.images.tag('rmi-a:1', 'rmi-b:1');
    const short = img.id.slice(7, 19);
    await assert.rejects(
      env.images.remove(img.id, { force: false, noprune: false, ...noUsers }),
      (err: unknown) =>
        err instanceof ConflictError &&
        err.message ===
          `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
    );
    assert.deepEqual(
      await env.images.remove('rmi-a:1', { force: false, noprune: false, ...noUsers }),
      [{ Untagged: 'rmi-a:1' }],
    );
    const running = {
      inUse: (id: string) => id === img.id,
      user: () => ({ id: 'f'.repeat(64), running: true }),
    };
    await assert.rejects(
      env.images.remove(img.id, { force: true, noprune: false, ...running }),
      (err: unknown) =>
        err instanceof ConflictError &&
        err.message ===
          `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ffffffffffff`,
    );
    const stopped = {
      inUse: (id: string) => id === img.id,
      user: () => ({ id: 'e'.repeat(64), running: false }),
    };
    await assert.rejects(
      env.images.remove(img.id, { force: false, noprune: false, ...stopped }),
      /\(must be forced\) - image is being used by stopped container eeeeeeeeeeee$/,
    );
    await assert.rejects(
      env.images.remove('rmi-b:1', { force: false, noprune: false, ...stopped }),
      /unable to remove repository reference "rmi-b:1" \(must force\) - container eeeeeeeeeeee is using its referenced image/,
    );
    const rec = recorder(env.events);
    const results = await env.images.remove(img.id.slice(7, 15), {
      force: true,
      noprune: false,
      ...stopped,
    });
    await rec.stop();
    assert.deepEqual(results, [
      { Untagged: 'rmi-b:1' },
      { Deleted: img.id },
      { Deleted: img.chainIDs[0] },
    ]);
    assert.deepEqual(
      rec.events.map((e) => e.Action),
      ['untag', 'delete'],
    );
    await assert.rejects(env.images.get(img.id), NotFoundError);
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
  });

  it('prunes dangling images, and with all, unused ones', async () => {
    const a = await env.images.importRootfs(
      Readable.from([await makeTar([{ name: 'p1', body: 'p1' }])]),
      {},
    );
    const b = await env.images.importRootfs(
      Readable.from([await makeTar([{ name: 'p2', body: 'p2' }])]),
      {
        reference: 'prune-me:1',
        changes: ['LABEL keep=no'],
      },
    );
    const report = await env.images.prune({ danglingOnly: true, ...noUsers, filters: {} });
    const deleted = report.ImagesDeleted.map((d) => d.Deleted);
    assert.ok(deleted.includes(a.id));
    assert.ok(!deleted.includes(b.id));
    assert.ok(report.SpaceReclaimed >= 2);
    await assert.rejects(
      env.images.prune({ danglingOnly: false, ...noUsers, filters: { bogus: ['1'] } }),
      /invalid filter 'bogus'/,
    );
    const none = await env.images.prune({
      danglingOnly: false,
      ...noUsers,
      filters: { label: ['keep=yes'] },
    });
    assert.deepEqual(none.ImagesDeleted, []);
    const all = await env.images.prune({
      danglingOnly: false,
      inUse: (id) => id !== b.id,
      filters: { label: ['keep=no'] },
    });
    assert.deepEqual(all.ImagesDeleted.slice(0, 2), [
      { Untagged: 'prune-me:1' },
      { Deleted: b.id },
    ]);
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
  });

  it('collects on open what a crash left before the record was written', async () => {
    const before = await env.images.list();
    // An operation that wrote a blob and a layer and died before its record.
    const orphanBlob = await writeBlob(env.content, Buffer.from('orphan layer'));
    await env.snapshots.prepare('berth-tmp-unpack-dead');
    await env.snapshots.prepare('half');
    await env.snapshots.commit(sha256('orphan chain'), 'half', {
      labels: { 'berth.diffid': sha256('x') },
    });
    // Somebody else's snapshot is not ours to collect.
    await env.snapshots.prepare(
      'container-rw',
      before.find((r) => r.chainIDs.length > 0)?.chainIDs[0],
    );
    const reopened = await env.reopen();
    assert.deepEqual(
      (await reopened.list()).map((r) => r.id).sort(),
      before.map((r) => r.id).sort(),
    );
    await assert.rejects(env.content.info(orphanBlob.digest), NotFoundError);
    const keys = (await env.snapshots.walk()).map((s) => s.key);
    assert.ok(!keys.includes('berth-tmp-unpack-dead'));
    assert.ok(!keys.includes(sha256('orphan chain')));
    assert.ok(keys.includes('container-rw'));
    await env.snapshots.remove('container-rw');
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
  });

  it('keeps the blobs of an operation in flight from a collection', async () => {
    const slow = new PassThrough();
    const layer = await makeTar([{ name: 'slow', body: 'slow' }]);
    const importing = env.images.importRootfs(slow, { reference: 'slow:1' });
    slow.write(layer.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 20));
    // A removal collects garbage while the import is writing its layer.
    await env.images.tag('busybox', 'tmp-tag:1');
    await env.images.remove('tmp-tag:1', { force: false, noprune: false, ...noUsers });
    slow.end(layer.subarray(100));
    const img = await importing;
    assert.equal(await readInSnapshot(env, img.chainIDs[0] ?? '', 'slow'), 'slow');
    assert.deepEqual(await orphans(env), { blobs: [], snapshots: [] });
  });
});
