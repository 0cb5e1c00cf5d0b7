import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import tar from 'tar-stream';
import { withoutMountPoints } from './layer-filter.js';

type Entry = [name: string, type: 'file' | 'directory', body?: string];

async function layer(entries: Entry[]): Promise<Readable> {
  const pack = tar.pack();
  for (const [name, type, body] of entries) {
    if (type === 'directory') pack.entry({ name, type });
    else pack.entry({ name, type }, body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Readable.from(Buffer.concat(chunks));
}

async function names(out: Readable): Promise<string[]> {
  const ex = tar.extract();
  out.pipe(ex);
  const list: string[] = [];
  for await (const e of ex) {
    list.push(e.header.name);
    e.resume();
  }
  return list;
}

describe('layer filter: secret mount stubs', () => {
  it('the stub and the directories made for it go', async () => {
    const out = withoutMountPoints(
      await layer([
        ['out', 'file', 'hash'],
        ['run', 'directory'],
        ['run/secrets', 'directory'],
        ['run/secrets/tok', 'file'],
        ['zz', 'file', 'z'],
      ]),
      [],
      undefined,
      ['/run/secrets/tok'],
    );
    assert.deepEqual(await names(out), ['out', 'zz']);
  });
  it('a directory above a stub stays when the step wrote something else in it', async () => {
    const out = withoutMountPoints(
      await layer([
        ['opt', 'directory'],
        ['opt/deep', 'directory'],
        ['opt/deep/key', 'file'],
        ['opt/kept', 'file', 'k'],
        ['run', 'directory'],
        ['run/secrets', 'directory'],
        ['run/secrets/a', 'file'],
        ['run/secrets/b', 'file'],
        ['run/x.pid', 'file', '1'],
      ]),
      [],
      undefined,
      ['/opt/deep/key', '/run/secrets/a', '/run/secrets/b'],
    );
    assert.deepEqual(await names(out), ['opt', 'opt/kept', 'run', 'run/x.pid']);
  });
  it('/etc still goes when only the engine touched it', async () => {
    const out = withoutMountPoints(
      await layer([
        ['etc', 'directory'],
        ['etc/hosts', 'file'],
        ['etc/secret', 'file'],
        ['f', 'file', 'x'],
      ]),
      [],
      undefined,
      ['/etc/secret'],
    );
    assert.deepEqual(await names(out), ['f']);
    const kept = withoutMountPoints(
      await layer([
        ['etc', 'directory'],
        ['etc/passwd', 'file', 'root'],
      ]),
    );
    assert.deepEqual(await names(kept), ['etc', 'etc/passwd']);
  });
});
