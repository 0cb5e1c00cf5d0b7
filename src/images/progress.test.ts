import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachLimited, progressBar } from './progress.js';

test('progress bars as dockerd renders them', () => {
  assert.equal(
    progressBar(65136, 1087845),
    '[==>                                                ]  65.14kB/1.088MB',
  );
  assert.equal(
    progressBar(1087845, 1087845),
    '[==================================================>]  1.088MB/1.088MB',
  );
  assert.equal(progressBar(0, 0), '');
  assert.equal(progressBar(1500, 0), '   1.5kB');
});

test('eachLimited keeps to its limit and reports the first failure', async () => {
  let running = 0;
  let peak = 0;
  await eachLimited([1, 2, 3, 4, 5, 6], 2, async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
  });
  assert.equal(peak, 2);
  await assert.rejects(
    eachLimited([1, 2, 3], 3, async (n) => {
      if (n === 2) throw new Error('two');
    }),
    /two/,
  );
});
