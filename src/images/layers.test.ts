import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { appletLinks } from './busybox.js';
import { chainIDs, decompressed } from './layers.js';
import { sha256 } from '../util/digest.js';

test('chain IDs follow the OCI rule', () => {
  const a = sha256('a');
  const b = sha256('b');
  const c = sha256('c');
  const ab = sha256(`${a} ${b}`);
  assert.deepEqual(chainIDs([]), []);
  assert.deepEqual(chainIDs([a]), [a]);
  assert.deepEqual(chainIDs([a, b, c]), [a, ab, sha256(`${ab} ${c}`)]);
});

test('applet links point at bin/busybox relatively', () => {
  const links = appletLinks(
    'usr/bin/env\nbin/sh\nsbin/ifconfig\nusr/sbin/chroot\nlinuxrc\nbin/busybox\n../x\n',
  );
  assert.deepEqual(links, [
    { name: 'bin/sh', target: 'busybox' },
    { name: 'sbin/ifconfig', target: '../bin/busybox' },
    { name: 'usr/bin/env', target: '../../bin/busybox' },
    { name: 'usr/sbin/chroot', target: '../../bin/busybox' },
  ]);
});

test('decompressed passes plain bytes through and gunzips gzip', async () => {
  const read = async (r: Readable): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const c of r) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  };
  assert.equal(
    await read(await decompressed(Readable.from([Buffer.from('plain text')]))),
    'plain text',
  );
  assert.equal(await read(await decompressed(Readable.from([gzipSync('zipped')]))), 'zipped');
  assert.equal(await read(await decompressed(Readable.from([Buffer.from('x')]))), 'x');
  assert.equal(await read(await decompressed(Readable.from([]))), '');
});
