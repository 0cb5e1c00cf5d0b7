import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import {
  parseRemapTarget,
  parseSubordinateFile,
  rangesFor,
  rootPair,
  toContainer,
  toHost,
} from './idmap.js';
import { loadRemap, type IdFiles } from './load.js';

test('--userns-remap values', () => {
  assert.deepEqual(parseRemapTarget('default'), { user: 'berthremap', group: 'berthremap' });
  assert.deepEqual(parseRemapTarget('alice'), { user: 'alice' });
  assert.deepEqual(parseRemapTarget('alice:staff'), { user: 'alice', group: 'staff' });
  assert.deepEqual(parseRemapTarget('1000:1000'), { user: '1000', group: '1000' });
  for (const bad of ['', ':', 'a:', ':b', 'a:b:c', 'root', '0', '0:5']) {
    assert.throws(() => parseRemapTarget(bad), InvalidArgumentError, bad);
  }
});

test('subordinate files: comments and blanks skipped, bad lines named', () => {
  const text = '# c\n\nalice:100000:65536\n1001:300000:1000\nalice:500000:10\n';
  assert.deepEqual(parseSubordinateFile(text, 'f'), [
    { owner: 'alice', start: 100000, count: 65536 },
    { owner: '1001', start: 300000, count: 1000 },
    { owner: 'alice', start: 500000, count: 10 },
  ]);
  for (const bad of ['alice:1', 'alice:x:1', 'alice:1:0', ':1:1', 'a:4294967295:2']) {
    assert.throws(
      () => parseSubordinateFile(`ok:1:1\n${bad}\n`, '/etc/subuid'),
      (err: unknown) => err instanceof InvalidArgumentError && /\/etc\/subuid:2:/.test(err.message),
      bad,
    );
  }
});

test('ranges are stacked from container id 0; ids map both ways', () => {
  const entries = parseSubordinateFile('alice:100000:1000\nbob:1:1\n1001:500000:64536\n', 'f');
  const ranges = rangesFor(entries, ['alice', '1001']);
  assert.deepEqual(ranges, [
    { containerID: 0, hostID: 100000, size: 1000 },
    { containerID: 1000, hostID: 500000, size: 64536 },
  ]);
  assert.equal(toHost(0, ranges), 100000);
  assert.equal(toHost(999, ranges), 100999);
  assert.equal(toHost(1000, ranges), 500000);
  assert.equal(toHost(65535, ranges), 564535);
  assert.throws(() => toHost(65536, ranges), /container uid 65536 cannot be mapped/);
  assert.equal(toContainer(500001, ranges), 1001);
  assert.equal(toContainer(99999, ranges), undefined);
  assert.deepEqual(rootPair({ uid: ranges, gid: [{ containerID: 0, hostID: 7, size: 1 }] }), {
    uid: 100000,
    gid: 7,
  });
});

test('loadRemap reads the files; a user without ranges is a clear error', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-idmap-'));
  try {
    const files: IdFiles = {
      passwd: path.join(dir, 'passwd'),
      group: path.join(dir, 'group'),
      subuid: path.join(dir, 'subuid'),
      subgid: path.join(dir, 'subgid'),
    };
    await writeFile(files.passwd, 'root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/h:/bin/sh\n');
    await writeFile(files.group, 'root:x:0:\nstaff:x:50:\n');
    await writeFile(files.subuid, '1001:100000:65536\n');
    await writeFile(files.subgid, 'alice:200000:65536\nstaff:300000:65536\n');
    // The user by name finds its uid's line; without a group its own name in subgid.
    assert.deepEqual(await loadRemap('alice', files), {
      uid: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gid: [{ containerID: 0, hostID: 200000, size: 65536 }],
    });
    // uid:gid numbers find the named lines.
    assert.deepEqual((await loadRemap('1001:50', files)).gid, [
      { containerID: 0, hostID: 300000, size: 65536 },
    ]);
    await assert.rejects(
      loadRemap('default', files),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.message.includes('no subordinate ids for berthremap in') &&
        err.message.includes('berthremap:100000:65536'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
