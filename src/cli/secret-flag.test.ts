import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseSecretFlag, readSecrets, SecretFlagError } from './secret-flag.js';

describe('--secret', () => {
  it('parses as buildx does', () => {
    assert.deepEqual(parseSecretFlag('id=a,src=/f'), { id: 'a', file: '/f' });
    assert.deepEqual(parseSecretFlag('id=a,source=f,type=file'), { id: 'a', file: 'f' });
    assert.deepEqual(parseSecretFlag('id=a,env=VAR'), { id: 'a', env: 'VAR' });
    assert.deepEqual(parseSecretFlag('type=env,id=a,src=VAR'), { id: 'a', env: 'VAR' });
    assert.deepEqual(parseSecretFlag('id=a'), { id: 'a' });
    assert.deepEqual(parseSecretFlag('ID=a,SRC=f'), { id: 'a', file: 'f' });
    assert.deepEqual(parseSecretFlag('id=a,"src=/with,comma"'), { id: 'a', file: '/with,comma' });
  });
  it("refuses bad values with buildx's words, naming the value", () => {
    const bad: [string, RegExp][] = [
      ['foo=bar', /unexpected key 'foo' in 'foo=bar'/],
      ['id=a,src', /invalid field 'src' must be a key=value pair/],
      ['id=a,type=dir', /unsupported secret type "dir"/],
      ['src=/f', /secret missing ID/],
      ['', /invalid field '' must be a key=value pair/],
    ];
    for (const [raw, re] of bad) {
      assert.throws(
        () => parseSecretFlag(raw),
        (err: unknown) =>
          err instanceof SecretFlagError &&
          err.message.startsWith(`invalid argument "${raw}" for "--secret" flag: `) &&
          re.test(err.message) &&
          !err.message.includes('\n'),
      );
    }
  });
  it('reads values: a file, a variable, the id as a variable or else a file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-secret-'));
    try {
      const file = path.join(dir, 'f');
      await fs.writeFile(file, 'from file\n');
      const env = { VAR: 'from env', byid: 'env by id' };
      const got = await readSecrets(
        [
          { id: 'a', file },
          { id: 'b', env: 'VAR' },
          { id: 'byid' },
          { id: file },
          { id: 'unset', env: 'NOPE' },
        ],
        env,
      );
      assert.equal(got.get('a')?.toString(), 'from file\n');
      assert.equal(got.get('b')?.toString(), 'from env');
      assert.equal(got.get('byid')?.toString(), 'env by id');
      assert.equal(got.get(file)?.toString(), 'from file\n');
      assert.equal(got.get('unset')?.toString(), '', 'an unset env= variable is empty (BuildKit)');
      await assert.rejects(
        readSecrets([{ id: 'x', file: path.join(dir, 'missing') }], {}),
        /failed to stat .*missing: stat .*missing: no such file or directory/,
      );
      await assert.rejects(readSecrets([{ id: 'nofile' }], {}), /failed to stat nofile/);
      await fs.writeFile(path.join(dir, 'big'), Buffer.alloc(500 * 1024 + 1));
      await assert.rejects(
        readSecrets([{ id: 'big', file: path.join(dir, 'big') }], {}),
        /secret big too big. max size 500KB/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
