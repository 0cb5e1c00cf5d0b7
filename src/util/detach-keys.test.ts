import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { detachScanner, parseDetachKeys } from './detach-keys.js';

test('detach keys parse as dockerd reads them', () => {
  assert.deepEqual(parseDetachKeys(undefined), [16, 17]);
  assert.deepEqual(parseDetachKeys(''), [16, 17]);
  assert.deepEqual(parseDetachKeys('ctrl-a,x'), [1, 120]);
  assert.deepEqual(
    parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_'),
    [0, 27, 28, 29, 30, 31],
  );
  assert.throws(
    () => parseDetachKeys('ctrl-1'),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      err.message === 'Invalid detach keys (ctrl-1) provided',
  );
});

test('the scanner swallows the sequence and passes near misses on', () => {
  const scan = detachScanner([16, 17]);
  assert.deepEqual(scan(Buffer.from('ab\x10c')), { data: Buffer.from('ab\x10c'), detached: false });
  assert.deepEqual(scan(Buffer.from('x\x10')), { data: Buffer.from('x'), detached: false });
  assert.deepEqual(scan(Buffer.from('\x11rest')), { data: Buffer.from(''), detached: true });
  // A held byte that the next chunk shows is not the sequence is passed on then.
  const again = detachScanner([16, 17]);
  assert.deepEqual(again(Buffer.from([0x61, 16])), { data: Buffer.from([0x61]), detached: false });
  assert.deepEqual(again(Buffer.from([0x62])), { data: Buffer.from([16, 0x62]), detached: false });
  assert.deepEqual(again(Buffer.from([16, 16, 17])), { data: Buffer.from([16]), detached: true });
});
