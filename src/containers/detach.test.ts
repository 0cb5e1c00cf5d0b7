import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { detachScanner, parseDetachKeys } from './detach.js';

test('detach keys parse as dockerd reads them', () => {
  assert.deepEqual([...parseDetachKeys(undefined)], [16, 17]);
  assert.deepEqual([...parseDetachKeys('ctrl-a,x')], [1, 120]);
  assert.throws(() => parseDetachKeys('ctrl-1'), InvalidArgumentError);
});

test('the scanner swallows the sequence and passes near misses on', () => {
  const scan = detachScanner(undefined);
  assert.deepEqual(scan(Buffer.from('ab\x10c')), { data: Buffer.from('ab\x10c'), detached: false });
  const first = scan(Buffer.from('x\x10'));
  assert.deepEqual(first, { data: Buffer.from('x'), detached: false });
  assert.deepEqual(scan(Buffer.from('\x11rest')), { data: Buffer.from(''), detached: true });
});
