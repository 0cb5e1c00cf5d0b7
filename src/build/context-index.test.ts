import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import { receiveBuildContext } from './context-index.js';
import {
  copySourceHash,
  findSources,
  hostNames,
  newIgnore,
  type Source,
  type TarEntry,
} from './context.js';

type Item = Partial<tar.Header> & { name: string; data?: string };

const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

async function tarOf(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async (): Promise<void> => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const { data, ...h } of items) {
    await new Promise<void>((resolve, reject) => {
      const header = { mode: 0o644, uid, gid, mtime: new Date(1e12), ...h } as tar.Header;
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (data !== undefined) pack.entry(header, data, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function receive(body: Buffer, wanted: string[] = ['Dockerfile'], holdBytes?: number) {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ctx-index-'));
  const dir = path.join(work, 'context');
  await fs.mkdir(dir);
  const entries = new Map<string, TarEntry>();
  try {
    const got = await receiveBuildContext(Readable.from([body]), {
      dir,
      spool: path.join(work, 'context.tar'),
      entries,
      wanted,
      ...(holdBytes !== undefined ? { holdBytes } : {}),
    });
    return { work, dir, entries, ...got };
  } catch (err: unknown) {
    await fs.rm(work, { recursive: true, force: true });
    throw err;
  }
}

const items: Item[] = [
  { name: 'Dockerfile', data: 'FROM busybox\n' },
  { name: '.dockerignore', data: '*.log\nsecret/\n!keep/*.log\n' },
  { name: 'a.txt', data: 'a\n' },
  { name: 'run.sh', data: '#!/bin/sh\n', mode: 0o755 },
  { name: 'x.log', data: 'log\n' },
  { name: 'keep/y.log', data: 'kept\n' },
  // Parents made only as parents, then a directory entry after its children.
  { name: 'deep/er/f', data: 'f\n' },
  { name: 'deep/', type: 'directory', mode: 0o750 },
  { name: 'empty/', type: 'directory', mode: 0o700 },
  { name: 'secret/s', data: 's\n' },
  { name: 'sub/', type: 'directory', mode: 0o755 },
  { name: 'sub/b.txt', data: 'b\n', mode: 0o600 },
  { name: './sub/c.txt', data: '' },
  // Owned by another user where the test may chown (as root), with set-id bits.
  {
    name: 'owned/',
    type: 'directory',
    mode: 0o2775,
    uid: uid === 0 ? 1234 : uid,
    gid: gid === 0 ? 5678 : gid,
  },
  {
    name: 'owned/f',
    data: 'o\n',
    mode: 0o4755,
    uid: uid === 0 ? 1234 : uid,
    gid: gid === 0 ? 5678 : gid,
  },
];

describe('the build context index', () => {
  it('finds and sums sources as the files on disk would be found and summed', async () => {
    const plain = await tarOf(items);
    for (const [body, hold] of [
      [plain, undefined],
      [gzipSync(plain), undefined],
      [plain, 0],
    ] as const) {
      const r = await receive(
        body,
        ['Dockerfile', 'Dockerfile.dockerignore', '.dockerignore'],
        hold,
      );
      try {
        const index = r.context.index;
        assert.ok(index, 'a context of files and directories is indexed');
        assert.equal((await fs.readdir(r.dir)).length, 0, 'nothing extracted yet');
        assert.equal(index.file('Dockerfile').toString(), 'FROM busybox\n');
        assert.equal(index.file('missing'), 'missing');
        assert.equal(index.file('sub'), 'missing');
        const ig = newIgnore(['*.log', 'secret/', '!keep/*.log']);
        await r.context.applyIgnore(ig);
        await r.context.materialize();
        assert.ok((await fs.readdir(r.dir)).includes('a.txt'));
        const sum = {
          root: r.dir,
          style: 'context' as const,
          names: await hostNames(),
          entries: r.entries,
        };
        const skips = [(): boolean => false, (rel: string): boolean => rel.endsWith('b.txt')];
        for (const arg of [
          '.',
          'a.txt',
          'sub',
          'sub/',
          '/sub/../sub/b.txt',
          'deep',
          'deep/er',
          'empty',
          'keep',
          '*.txt',
          's*',
          'sub/*',
          '[ad]*',
          'x.log',
          'secret',
          'nope',
          'a.txt/x',
          'nope*',
        ]) {
          let disk: Source[] | Error;
          try {
            disk = await findSources(r.dir, arg, 'COPY');
          } catch (err: unknown) {
            disk = err as Error;
          }
          if (disk instanceof Error) {
            assert.ok(disk instanceof NotFoundError, arg);
            assert.throws(() => index.findSources(arg, 'COPY'), { message: disk.message }, arg);
            continue;
          }
          const files: Source[] = disk;
          const found = index.findSources(arg, 'COPY');
          assert.deepEqual(
            found.map((f) => [f.rel, f.directory]),
            files.map((d) => [d.rel, d.stat.isDirectory()]),
            arg,
          );
          for (const skip of skips) {
            for (const [i, d] of files.entries()) {
              const f = found[i];
              assert.ok(f);
              assert.equal(index.sourceHash(f, skip), await copySourceHash(sum, d, skip), arg);
            }
          }
        }
      } finally {
        await fs.rm(r.work, { recursive: true, force: true });
      }
    }
  });

  it('writes the files from memory as the extractor writes them from the spool', async () => {
    const body = await tarOf(items);
    const fast = await receive(body);
    const slow = await receive(body, ['Dockerfile'], 0);
    try {
      await fast.context.materialize();
      await slow.context.materialize();
      const inTar = new Set(fast.entries.keys());
      const tree = async (dir: string, rel = ''): Promise<string[]> => {
        const out: string[] = [];
        for (const name of (await fs.readdir(path.join(dir, rel))).sort()) {
          const r = rel === '' ? name : `${rel}/${name}`;
          const st = await fs.lstat(path.join(dir, r));
          // A directory made only as a parent has the time it was made at.
          const time = st.isDirectory() && !inTar.has(r) ? '' : String(st.mtimeMs);
          const data = st.isFile() ? await fs.readFile(path.join(dir, r), 'utf8') : '';
          out.push([r, st.mode.toString(8), st.uid, st.gid, st.size, time, data].join(' '));
          if (st.isDirectory()) out.push(...(await tree(dir, r)));
        }
        return out;
      };
      const written = await tree(fast.dir);
      assert.ok(written.length > 10);
      assert.deepEqual(written, await tree(slow.dir));
      assert.deepEqual([...fast.entries], [...slow.entries]);
    } finally {
      await fs.rm(fast.work, { recursive: true, force: true });
      await fs.rm(slow.work, { recursive: true, force: true });
    }
  });

  it('extracts at once a context it does not index, and refuses what the extractor refuses', async () => {
    const unindexed: Item[][] = [
      [{ name: 'l', type: 'symlink', linkname: 'a.txt' }],
      [
        { name: 'a.txt', data: 'a' },
        { name: 'h', type: 'link', linkname: 'a.txt' },
      ],
      [
        { name: 'a.txt', data: 'a' },
        { name: 'a.txt', data: 'b' },
      ],
    ];
    for (const extra of unindexed) {
      const r = await receive(await tarOf([{ name: 'Dockerfile', data: 'FROM x\n' }, ...extra]));
      try {
        assert.equal(r.context.index, undefined);
        assert.ok((await fs.readdir(r.dir)).includes('Dockerfile'), 'extracted at once');
      } finally {
        await fs.rm(r.work, { recursive: true, force: true });
      }
    }
    for (const bad of [
      [{ name: '../escape', data: 'x' }],
      [{ name: '/abs', data: 'x' }],
      [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }],
    ] as Item[][]) {
      const body = await tarOf([{ name: 'Dockerfile', data: 'FROM x\n' }, ...bad]);
      await assert.rejects(receive(body), InvalidArgumentError, JSON.stringify(bad));
    }
  });
});
