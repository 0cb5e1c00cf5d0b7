import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import { mountAll, unmountAll } from '../mount/mount-linux.js';
import { run } from '../util/exec.js';
import { native } from '../util/native.js';
import {
  applyLayer,
  changes,
  copyIn,
  copyOut,
  diffTar,
  resolveInRoot,
  statPath,
  tarTree,
} from './archive.js';

interface E {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  body?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
}

async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const out = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file');
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        {
          name: e.name,
          type,
          mode: (e.mode ?? (type === 'directory' ? 0o755 : 0o644)) | 0o100000,
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          mtime: e.mtime ?? new Date('2020-01-02T03:04:05Z'),
          ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
          ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
        },
        type === 'file' ? (e.body ?? '') : Buffer.alloc(0),
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  return out;
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A comparable description of a tree: type, mode, owner, size, content, link, device, caps. */
async function describeTree(
  root: string,
  opts: { mtimes?: boolean } = {},
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(p);
      let d = `${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (opts.mtimes && !st.isDirectory()) d += ` t=${Math.floor(st.mtimeMs / 1000)}`;
      if (st.isFile()) {
        d += ` ${(await fs.readFile(p)).toString('base64')}`;
        if (st.nlink > 1) {
          const first = inodes.get(st.ino);
          if (first) d += ` link=${first}`;
          else inodes.set(st.ino, r);
        }
        const cap = native().lgetxattr(p, 'security.capability');
        if (cap) d += ` cap=${cap.toString('hex')}`;
      }
      if (st.isSymbolicLink()) d += ` -> ${await fs.readlink(p)}`;
      if (st.isCharacterDevice() || st.isBlockDevice()) d += ` rdev=${st.rdev}`;
      out[r] = d;
      if (st.isDirectory()) await walk(p, r);
    }
  };
  await walk(root, '');
  return out;
}

describe('archive', () => {
  let base = '';
  let n = 0;
  const fresh = async (name = 'd'): Promise<string> => {
    const d = path.join(base, `${name}-${n++}`);
    await fs.mkdir(d, { recursive: true });
    return d;
  };
  const mounted: string[] = [];
  before(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-archive-'));
  });
  after(async () => {
    for (const m of mounted) await unmountAll(m, { detach: true });
    await fs.rm(base, { recursive: true, force: true });
  });

  const layer1: E[] = [
    { name: 'etc/', mode: 0o755 },
    { name: 'etc/passwd', body: 'root:x:0:0\n', mode: 0o644 },
    { name: 'etc/shadow', body: 'secret', mode: 0o000, uid: 0, gid: 42 },
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/busybox', body: 'ELF', mode: 0o4755, uid: 1000, gid: 1000 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: 'dev/', mode: 0o755 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'run/', mode: 0o755 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    { name: 'var/', mode: 0o755 },
    { name: 'var/lib/', mode: 0o700 },
    { name: 'var/lib/old', body: 'old' },
    { name: 'var/lib/sub/', mode: 0o755 },
    { name: 'var/lib/sub/deep', body: 'deep' },
    { name: 'gone', body: 'soon removed' },
  ];
  const layer2: E[] = [
    { name: 'var/', mode: 0o755 },
    { name: 'var/lib/', mode: 0o755 },
    { name: 'var/lib/.wh..wh..opq', body: '' },
    { name: 'var/lib/new', body: 'new' },
    { name: '.wh.gone', body: '' },
    { name: 'etc/', mode: 0o755 },
    { name: 'etc/.wh.shadow', body: '' },
    { name: 'etc/passwd', body: 'root:x:0:0\nuser:x:1:1\n' },
  ];

  it('applies files, directories, links, devices and fifos with their metadata; diffID of the raw tar', async () => {
    const raw = await makeTar(layer1);
    const root = await fresh('apply');
    const res = await applyLayer(root, Readable.from([raw]), { whiteouts: 'remove' });
    assert.equal(res.diffID, sha(raw));
    assert.equal(res.size, raw.length);
    const bb = await fs.lstat(path.join(root, 'bin/busybox'));
    assert.equal(bb.mode & 0o7777, 0o4755);
    assert.equal(bb.uid, 1000);
    assert.equal(bb.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    assert.equal((await fs.lstat(path.join(root, 'bin/ls'))).ino, bb.ino);
    assert.equal(await fs.readlink(path.join(root, 'bin/sh')), 'busybox');
    const shadow = await fs.lstat(path.join(root, 'etc/shadow'));
    assert.equal(shadow.mode & 0o7777, 0);
    assert.equal(shadow.gid, 42);
    const dev = await fs.lstat(path.join(root, 'dev/null'));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, 259);
    assert.ok((await fs.lstat(path.join(root, 'run/fifo'))).isFIFO());
    assert.equal((await fs.lstat(path.join(root, 'var/lib'))).mode & 0o777, 0o700);
    assert.equal(
      (await fs.lstat(path.join(root, 'var/lib'))).mtime.toISOString(),
      '2020-01-02T03:04:05.000Z',
    );
  });

  it('shifts owners with `ids` (a remapped daemon), implicit parents to the mapped root', async () => {
    const raw = await makeTar([
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/busybox', body: 'ELF', mode: 0o4755, uid: 1000, gid: 1000 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'deep/er/file', body: 'x', uid: 5, gid: 6 },
    ]);
    const root = await fresh('shift');
    const ids = (uid: number, gid: number): { uid: number; gid: number } => ({
      uid: uid + 100000,
      gid: gid + 200000,
    });
    const plain = await applyLayer(await fresh('noshift'), Readable.from([raw]), {
      whiteouts: 'remove',
    });
    const res = await applyLayer(root, Readable.from([raw]), { whiteouts: 'remove', ids });
    assert.equal(res.diffID, plain.diffID, 'the diff ID is of the tar, whatever the owners');
    const tree = await describeTree(root);
    assert.equal(tree['bin'], '40000 755 100000:200000');
    assert.equal(
      tree['bin/busybox'],
      `100000 4755 101000:201000 ${Buffer.from('ELF').toString('base64')}`,
    );
    assert.match(tree['bin/sh'] ?? '', / 100000:200000 -> busybox$/);
    assert.equal(tree['deep'], '40000 755 100000:200000');
    assert.equal(tree['deep/er'], '40000 755 100000:200000');
    assert.match(tree['deep/er/file'] ?? '', / 100005:200006 /);
    // An id outside the mapping refuses the layer.
    const refuse = (): never => {
      throw new InvalidArgumentError('container uid 1000 cannot be mapped to a host uid');
    };
    await assert.rejects(
      applyLayer(await fresh('refuse'), Readable.from([raw]), { whiteouts: 'remove', ids: refuse }),
      InvalidArgumentError,
    );
  });

  it('applies gzip layers, with the diffID of the uncompressed tar', async () => {
    const raw = await makeTar(layer1);
    const root = await fresh('gz');
    const gz = gzipSync(raw);
    const chunks = [gz.subarray(0, 1), gz.subarray(1, 5), gz.subarray(5)];
    const res = await applyLayer(root, Readable.from(chunks), { whiteouts: 'remove' });
    assert.equal(res.diffID, sha(raw));
    assert.equal(await fs.readFile(path.join(root, 'etc/passwd'), 'utf8'), 'root:x:0:0\n');
  });

  it('refuses zstd layers and garbage', async () => {
    const root = await fresh('zstd');
    await assert.rejects(
      applyLayer(root, Readable.from([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])]), {
        whiteouts: 'remove',
      }),
      (err: unknown) => err instanceof InvalidArgumentError && /zstd/.test(err.message),
    );
    await assert.rejects(
      applyLayer(root, Readable.from([Buffer.alloc(700, 7)]), { whiteouts: 'remove' }),
      InvalidArgumentError,
    );
  });

  it("carries out whiteouts by removing ('remove' mode)", async () => {
    const root = await fresh('wh');
    await applyLayer(root, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    await applyLayer(root, Readable.from([await makeTar(layer2)]), { whiteouts: 'remove' });
    assert.deepEqual(await fs.readdir(path.join(root, 'var/lib')), ['new']);
    await assert.rejects(fs.lstat(path.join(root, 'gone')), { code: 'ENOENT' });
    await assert.rejects(fs.lstat(path.join(root, 'etc/shadow')), { code: 'ENOENT' });
    assert.equal(
      await fs.readFile(path.join(root, 'etc/passwd'), 'utf8'),
      'root:x:0:0\nuser:x:1:1\n',
    );
  });

  it("writes overlay whiteouts ('overlay' mode) that an overlay mount honours", async () => {
    const lower = await fresh('olower');
    const upper = await fresh('oupper');
    const work = await fresh('owork');
    const merged = await fresh('omerged');
    const expected = await fresh('oexpected');
    await applyLayer(lower, Readable.from([await makeTar(layer1)]), { whiteouts: 'overlay' });
    await applyLayer(upper, Readable.from([await makeTar(layer2)]), { whiteouts: 'overlay' });
    const wh = await fs.lstat(path.join(upper, 'gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.equal(
      native().lgetxattr(path.join(upper, 'var/lib'), 'trusted.overlay.opaque')?.toString(),
      'y',
    );
    await applyLayer(expected, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    await applyLayer(expected, Readable.from([await makeTar(layer2)]), { whiteouts: 'remove' });
    mounted.push(merged);
    await mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
        },
      ],
      merged,
    );
    try {
      assert.deepEqual(await describeTree(merged), await describeTree(expected));
    } finally {
      await unmountAll(merged);
    }
  });

  it('refuses entries that escape the root and writes nothing outside', async () => {
    const outside = await fresh('outside');
    await fs.writeFile(path.join(outside, 'secret'), 'host secret');
    const before = await describeTree(outside);
    const cases: E[][] = [
      [{ name: '../evil', body: 'x' }],
      [{ name: 'a/../../evil', body: 'x' }],
      [{ name: '/abs-evil', body: 'x' }],
      [{ name: 'hl', type: 'link', linkname: '../outside/secret' }],
      [{ name: 'hl', type: 'link', linkname: `${outside}/secret` }],
      [
        { name: 'out', type: 'symlink', linkname: outside },
        { name: 'hl', type: 'link', linkname: 'out/secret' },
      ],
    ];
    for (const entries of cases) {
      const root = await fresh('escape');
      await assert.rejects(
        applyLayer(root, Readable.from([await makeTar(entries)]), { whiteouts: 'remove' }),
        (err: unknown) =>
          err instanceof InvalidArgumentError &&
          !err.message.includes('\n') &&
          /tar entry "/.test(err.message),
      );
    }
    // Symlinked directories are followed as inside the root: the entries land under it.
    const root = await fresh('symdir');
    await applyLayer(
      root,
      Readable.from([
        await makeTar([
          { name: 'abs', type: 'symlink', linkname: outside },
          { name: 'abs/evil', body: 'x' },
          { name: 'rel', type: 'symlink', linkname: '../../../../../../..' + outside },
          { name: 'rel/evil2', body: 'y' },
          { name: 'abs/.wh.secret', body: '' },
        ]),
      ]),
      { whiteouts: 'remove' },
    );
    assert.equal(await fs.readFile(path.join(root, outside, 'evil'), 'utf8'), 'x');
    assert.equal(await fs.readFile(path.join(root, outside, 'evil2'), 'utf8'), 'y');
    assert.deepEqual(await describeTree(outside), before);
  });

  it('replaces non-directories and keeps existing directories', async () => {
    const root = await fresh('replace');
    await applyLayer(root, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    await applyLayer(
      root,
      Readable.from([
        await makeTar([
          { name: 'var/', mode: 0o711, uid: 5 },
          { name: 'bin/sh', body: 'now a file' },
          { name: 'gone/', mode: 0o755 },
        ]),
      ]),
      { whiteouts: 'remove' },
    );
    const v = await fs.lstat(path.join(root, 'var'));
    assert.equal(v.mode & 0o777, 0o711);
    assert.equal(v.uid, 5);
    assert.equal(await fs.readFile(path.join(root, 'var/lib/old'), 'utf8'), 'old');
    assert.equal(await fs.readFile(path.join(root, 'bin/sh'), 'utf8'), 'now a file');
    assert.ok((await fs.lstat(path.join(root, 'gone'))).isDirectory());
  });

  it('within one tar, a directory replaced by a symlink or removed is resolved again', async () => {
    const outside = await fresh('outside2');
    const root = await fresh('reresolve');
    const res = await applyLayer(
      root,
      Readable.from([
        await makeTar([
          { name: 'a/', mode: 0o755 },
          { name: 'a/f', body: 'in a' },
          // `a` becomes a link out of the root: what follows under it lands inside root.
          { name: 'a', type: 'symlink', linkname: outside },
          { name: 'a/g', body: 'through the link' },
          { name: 'b/c/', mode: 0o755 },
          { name: 'b/c/f', body: 'x' },
          { name: '.wh.b', body: '' },
          { name: 'b', type: 'symlink', linkname: 'a' },
          { name: 'b/h', body: 'through two links' },
          { name: 'self', body: 'me' },
          { name: 'self', type: 'link', linkname: 'self' },
        ]),
      ]),
      { whiteouts: 'remove' },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(res instanceof InvalidArgumentError && /hardlink target/.test(res.message));
    assert.deepEqual(await fs.readdir(outside), []);
    assert.equal(await fs.readlink(path.join(root, 'a')), outside);
    assert.equal(await fs.readFile(path.join(root, outside, 'g'), 'utf8'), 'through the link');
    assert.equal(await fs.readFile(path.join(root, outside, 'h'), 'utf8'), 'through two links');
    assert.equal(await fs.readlink(path.join(root, 'b')), 'a');
  });

  it('symlinks made while later entries are read: resolved through, replaced, counted', async () => {
    const root = await fresh('links');
    const names = Array.from({ length: 40 }, (_, i) => `bin/l${i}`);
    await applyLayer(
      root,
      Readable.from([
        await makeTar([
          { name: 'bin/', mode: 0o755 },
          ...names.map((name): E => ({ name, type: 'symlink', linkname: 'busybox', uid: 7 })),
          { name: 'bin/busybox', body: 'ELF', mode: 0o755 },
          { name: 'bin/to-sub', type: 'symlink', linkname: 'sub' },
          { name: 'bin/sub/', mode: 0o755 },
          { name: 'bin/to-sub/f', body: 'through the link' },
          { name: 'bin/l3', type: 'symlink', linkname: 'other' },
          { name: 'bin/l4', body: 'now a file' },
          { name: 'bin/.wh.l5', body: '' },
          { name: 'bin/l6', type: 'link', linkname: 'bin/busybox' },
        ]),
      ]),
      { whiteouts: 'remove' },
    );
    assert.equal(await fs.readFile(path.join(root, 'bin/sub/f'), 'utf8'), 'through the link');
    assert.equal(await fs.readlink(path.join(root, 'bin/l0')), 'busybox');
    assert.equal((await fs.lstat(path.join(root, 'bin/l39'))).uid, 7);
    assert.equal(await fs.readlink(path.join(root, 'bin/l3')), 'other');
    assert.equal(await fs.readFile(path.join(root, 'bin/l4'), 'utf8'), 'now a file');
    await assert.rejects(fs.lstat(path.join(root, 'bin/l5')), /ENOENT/);
    assert.equal((await fs.lstat(path.join(root, 'bin/l6'))).nlink, 2);
    assert.equal((await fs.readdir(path.join(root, 'bin'))).length, 42);
  });

  it('gives the content size: file bytes and symlink target lengths', async () => {
    const root = await fresh('size');
    const res = await applyLayer(
      root,
      Readable.from([
        await makeTar([
          { name: 'd/', mode: 0o755 },
          { name: 'd/f', body: 'hello' },
          { name: 'd/l', type: 'symlink', linkname: 'f' },
          { name: 'd/h', type: 'link', linkname: 'd/f' },
          { name: 'd/.wh.x', body: '' },
        ]),
      ]),
      { whiteouts: 'remove' },
    );
    assert.equal(res.contentSize, 6);
  });

  it('tarTree round-trips a tree, deterministically, with capabilities', async () => {
    const src = await fresh('tsrc');
    await applyLayer(src, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    const long = path.join(src, 'x'.repeat(90), 'y'.repeat(90), 'z'.repeat(120));
    await fs.mkdir(path.dirname(long), { recursive: true });
    await fs.writeFile(long, 'long name');
    await fs.writeFile(path.join(src, 'bin', 'ping'), 'ping');
    await fs.writeFile(path.join(src, 'bin', 'ünïcode'), 'u');
    await fs.chown(path.join(src, 'bin', 'ping'), 3000000, 3000000);
    // vfs_cap_data revision 2, effective, permitted CAP_NET_RAW: bytes >= 0x80 included.
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    cap[4] = 0x00;
    cap[5] = 0x20;
    native().lsetxattr(path.join(src, 'bin', 'ping'), 'security.capability', cap);
    const t1 = await collect(tarTree(src));
    const t2 = await collect(tarTree(src));
    assert.ok(t1.equals(t2));
    const dst = await fresh('tdst');
    const res = await applyLayer(dst, Readable.from([t1]), { whiteouts: 'remove' });
    assert.equal(res.diffID, sha(t1));
    assert.deepEqual(
      await describeTree(dst, { mtimes: true }),
      await describeTree(src, { mtimes: true }),
    );
    assert.deepEqual(native().lgetxattr(path.join(dst, 'bin', 'ping'), 'security.capability'), cap);
    // GNU tar reads it too.
    const gnu = await fresh('tgnu');
    const tarFile = path.join(base, 'tree.tar');
    await fs.writeFile(tarFile, t1);
    await run('tar', ['-xf', tarFile, '-C', gnu, '--numeric-owner']);
    assert.equal(await fs.readFile(path.join(gnu, path.relative(src, long)), 'utf8'), 'long name');
    assert.equal((await fs.lstat(path.join(gnu, 'bin', 'ping'))).uid, 3000000);
  });

  it('tarTree includes a subtree under another name', async () => {
    const src = await fresh('tinc');
    await fs.mkdir(path.join(src, 'a', 'b'), { recursive: true });
    await fs.writeFile(path.join(src, 'a', 'b', 'f'), 'f');
    const names: string[] = [];
    const ex = tar.extract();
    const done = (async () => {
      for await (const e of ex) {
        names.push(e.header.name);
        e.resume();
      }
    })();
    ex.end(await collect(tarTree(src, { include: ['a'], rebaseTo: 'renamed' })));
    await done;
    assert.deepEqual(names, ['renamed/', 'renamed/b/', 'renamed/b/f']);
  });

  it('diffTar of an overlay upper dir reproduces the merged tree; changes as docker diff', async () => {
    const lower = await fresh('dlower');
    const upper = await fresh('dupper');
    const work = await fresh('dwork');
    const merged = await fresh('dmerged');
    await applyLayer(lower, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    mounted.push(merged);
    await mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
        },
      ],
      merged,
    );
    let want: Record<string, string>;
    try {
      await fs.rm(path.join(merged, 'gone'));
      await fs.rm(path.join(merged, 'var/lib'), { recursive: true });
      await fs.mkdir(path.join(merged, 'var/lib'));
      await fs.writeFile(path.join(merged, 'var/lib/fresh'), 'fresh');
      await fs.appendFile(path.join(merged, 'etc/passwd'), 'more\n');
      await fs.mkdir(path.join(merged, 'home/user'), { recursive: true });
      await fs.writeFile(path.join(merged, 'home/user/notes'), 'n');
      want = await describeTree(merged);
    } finally {
      await unmountAll(merged);
    }
    const copy = await fresh('dcopy');
    await run('cp', ['-a', `${lower}/.`, copy]);
    const diff = await collect(diffTar({ upperDir: upper }));
    await applyLayer(copy, Readable.from([diff]), { whiteouts: 'remove' });
    assert.deepEqual(await describeTree(copy), want);

    const got = await changes({ upperDir: upper, lower });
    const byPath = Object.fromEntries(got.map((c) => [c.Path, c.Kind]));
    assert.equal(byPath['/gone'], 2);
    // Copied up only for its child, with size, mode and mtime unchanged: not listed (as moby).
    assert.equal(byPath['/etc'], undefined);
    assert.equal(byPath['/etc/passwd'], 0);
    assert.equal(byPath['/home'], 1);
    assert.equal(byPath['/home/user'], 1);
    assert.equal(byPath['/home/user/notes'], 1);
    assert.equal(byPath['/var'], 0);
    assert.equal(byPath['/var/lib'], 2);
    assert.equal(byPath['/var/lib/fresh'], 1);
    assert.equal(new Set(got.map((c) => c.Path)).size, got.length);
    const noLower = await changes({ upperDir: upper });
    assert.ok(noLower.every((c) => c.Kind !== 0));
    assert.equal(noLower.find((c) => c.Path === '/etc/passwd')?.Kind, 1);
  });

  it('resolves paths inside the root', async () => {
    const root = await fresh('resolve');
    await fs.mkdir(path.join(root, 'real/dir'), { recursive: true });
    await fs.symlink('/real', path.join(root, 'abs'));
    await fs.symlink('../../../../real/dir', path.join(root, 'real/up'));
    await fs.symlink('loop2', path.join(root, 'loop1'));
    await fs.symlink('loop1', path.join(root, 'loop2'));
    assert.equal(await resolveInRoot(root, '/abs/dir'), path.join(root, 'real/dir'));
    assert.equal(await resolveInRoot(root, 'real/up/x'), path.join(root, 'real/dir/x'));
    assert.equal(await resolveInRoot(root, '../../etc/passwd'), path.join(root, 'etc/passwd'));
    await assert.rejects(resolveInRoot(root, 'loop1/x'), InvalidArgumentError);
  });

  it('cp into a tree that changes meanwhile resolves each entry afresh: a swapped-in symlink stays inside', async () => {
    const root = await fresh('shared');
    const outside = await fresh('outside');
    const whole = await makeTar([
      { name: 'a/', mode: 0o755 },
      { name: 'a/one', body: '1' },
      { name: 'a/two', body: '2' },
    ]);
    // "a/" and "a/one" (a header and one data block each, the directory's without data) first;
    // then, as a running container could, the directory is swapped for a symlink out of root.
    const first = whole.subarray(0, 3 * 512);
    async function* pieces(): AsyncGenerator<Buffer> {
      yield first;
      for (let i = 0; i < 200; i++) {
        if (
          await fs.stat(path.join(root, 'a/one')).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await fs.rename(path.join(root, 'a'), path.join(root, 'a-was'));
      await fs.symlink(outside, path.join(root, 'a'));
      yield whole.subarray(3 * 512);
    }
    await copyIn(root, '/', Readable.from(pieces()), { noOverwriteDirNonDir: false });
    assert.deepEqual(await fs.readdir(outside), [], 'nothing written through the symlink');
    // The symlink is followed as the container sees it: its absolute target, inside root.
    assert.equal(await fs.readFile(path.join(root, outside, 'two'), 'utf8'), '2');
  });

  it('copies out and in as docker cp does', async () => {
    const root = await fresh('cp');
    await applyLayer(root, Readable.from([await makeTar(layer1)]), { whiteouts: 'remove' });
    await fs.symlink('/var/lib', path.join(root, 'libs'));
    const names = async (r: Readable): Promise<string[]> => {
      const out: string[] = [];
      const ex = tar.extract();
      const done = (async () => {
        for await (const e of ex) {
          out.push(e.header.name);
          e.resume();
        }
      })();
      ex.end(await collect(r));
      await done;
      return out;
    };
    const file = await copyOut(root, '/etc/passwd');
    assert.equal(file.stat.name, 'passwd');
    assert.equal(file.stat.size, 11);
    assert.equal(file.stat.mode, 0o644);
    assert.deepEqual(await names(file.tar), ['passwd']);
    const dir = await copyOut(root, '/var/lib');
    assert.equal(dir.stat.mode, (0x80000000 | 0o700) >>> 0);
    assert.deepEqual(await names(dir.tar), ['lib/', 'lib/old', 'lib/sub/', 'lib/sub/deep']);
    const link = await copyOut(root, 'libs');
    assert.equal(link.stat.linkTarget, '/var/lib');
    assert.deepEqual(await names(link.tar), ['libs']);
    const followed = await copyOut(root, '/libs/');
    assert.deepEqual(await names(followed.tar), [
      'libs/',
      'libs/old',
      'libs/sub/',
      'libs/sub/deep',
    ]);
    const contents = await copyOut(root, '/var/lib/.');
    assert.deepEqual(await names(contents.tar), ['./', './old', './sub/', './sub/deep']);
    await assert.rejects(copyOut(root, '/nope'), NotFoundError);
    await assert.rejects(statPath(root, '/etc/passwd/'), InvalidArgumentError);

    await copyIn(
      root,
      '/libs',
      Readable.from([await makeTar([{ name: 'put', body: 'p', uid: 7 }])]),
      {
        noOverwriteDirNonDir: false,
      },
    );
    assert.equal(await fs.readFile(path.join(root, 'var/lib/put'), 'utf8'), 'p');
    assert.equal((await fs.lstat(path.join(root, 'var/lib/put'))).uid, 7);
    await copyIn(
      root,
      '/',
      Readable.from([await makeTar([{ name: 'owned', body: 'o', uid: 7 }])]),
      {
        noOverwriteDirNonDir: false,
        chown: { uid: 0, gid: 0 },
      },
    );
    assert.equal((await fs.lstat(path.join(root, 'owned'))).uid, 0);
    await assert.rejects(
      copyIn(root, '/var', Readable.from([await makeTar([{ name: 'lib', body: 'x' }])]), {
        noOverwriteDirNonDir: true,
      }),
      InvalidArgumentError,
    );
    await assert.rejects(
      copyIn(root, '/var', Readable.from([await makeTar([{ name: '../escape', body: 'x' }])]), {
        noOverwriteDirNonDir: false,
      }),
      InvalidArgumentError,
    );
    await assert.rejects(
      copyIn(root, '/etc/passwd', Readable.from([await makeTar([{ name: 'x', body: 'x' }])]), {
        noOverwriteDirNonDir: false,
      }),
      InvalidArgumentError,
    );
    // `.wh.` names are plain files to docker cp.
    await copyIn(root, '/', Readable.from([await makeTar([{ name: '.wh.etc', body: '' }])]), {
      noOverwriteDirNonDir: false,
    });
    assert.ok((await fs.lstat(path.join(root, 'etc'))).isDirectory());
    assert.ok((await fs.lstat(path.join(root, '.wh.etc'))).isFile());
  });
});
