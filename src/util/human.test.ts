import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanDuration, humanSize } from './human.js';

test('humanDuration follows go-units', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(47_000), '47 seconds');
  assert.equal(humanDuration(61_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(3 * 3_600_000), '3 hours');
  assert.equal(humanDuration(3 * 24 * 3_600_000), '3 days');
});

test('humanSize is decimal with 3 significant digits', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1500), '1.5kB');
  assert.equal(humanSize(4_261_000), '4.26MB');
  assert.equal(humanSize(1_000_000_000), '1GB');
  assert.equal(humanSize(999_999), '1e+03kB');
});
