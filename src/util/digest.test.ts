import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { isDigest, parseDigest, sha256, shortId } from './digest.js';
import { KeyedMutex } from './lock.js';

test('sha256 digests', () => {
  const d = sha256('');
  assert.equal(d, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.ok(isDigest(d));
  assert.throws(() => parseDigest('sha256:../../etc'), InvalidArgumentError);
  assert.equal(shortId(d), 'e3b0c44298fc');
});

test('KeyedMutex runs work for one key in order', async () => {
  const m = new KeyedMutex();
  const order: number[] = [];
  const slow = m.withLock('a', async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push(1);
  });
  const fast = m.withLock('a', async () => {
    order.push(2);
  });
  const other = m.withLock('b', async () => {
    order.push(0);
  });
  await Promise.all([slow, fast, other]);
  assert.deepEqual(order, [0, 1, 2]);
});
