import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError } from './args.js';
import { CREATE_FLAGS, healthcheckFlags, parseGoDuration } from './container-config.js';

const flags = (argv: string[]): ReturnType<typeof parseArgs>['flags'] =>
  parseArgs([...argv, 'busybox'], CREATE_FLAGS, { interspersed: false }).flags;

test('Go durations parse as time.ParseDuration does, with its errors', () => {
  assert.equal(parseGoDuration('1s'), 1e9);
  assert.equal(parseGoDuration('500ms'), 5e8);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('1.5h'), 5400e9);
  assert.equal(parseGoDuration('2us'), 2000);
  assert.equal(parseGoDuration('2µs'), 2000);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('-1s'), -1e9);
  assert.throws(() => parseGoDuration('5'), /^Error: time: missing unit in duration "5"$/);
  assert.throws(() => parseGoDuration('abc'), /^Error: time: invalid duration "abc"$/);
  assert.throws(() => parseGoDuration('5x'), /^Error: time: unknown unit "x" in duration "5x"$/);
});

test('--health-* flags map as the docker CLI maps them', () => {
  assert.equal(healthcheckFlags(flags([])), undefined);
  assert.deepEqual(
    healthcheckFlags(flags(['--health-cmd', 'echo hi; true', '--health-interval', '1s'])),
    {
      Test: ['CMD-SHELL', 'echo hi; true'],
      Interval: 1e9,
    },
  );
  assert.deepEqual(
    healthcheckFlags(
      flags([
        '--health-timeout=2s',
        '--health-retries=4',
        '--health-start-period=1m',
        '--health-start-interval=100ms',
      ]),
    ),
    { Timeout: 2e9, Retries: 4, StartPeriod: 60e9, StartInterval: 1e8 },
  );
  assert.deepEqual(healthcheckFlags(flags(['--no-healthcheck'])), { Test: ['NONE'] });
});

test('--health-* flags refuse what the docker CLI refuses, with its words', () => {
  const refuses = (argv: string[], message: string): void =>
    assert.throws(
      () => healthcheckFlags(flags(argv)),
      (e: Error) => e instanceof UsageError && e.message === message,
    );
  refuses(
    ['--no-healthcheck', '--health-retries', '2'],
    '--no-healthcheck conflicts with --health-* options',
  );
  refuses(['--health-interval', '-1s'], '--health-interval cannot be negative');
  refuses(['--health-timeout', '-1s'], '--health-timeout cannot be negative');
  refuses(['--health-retries', '-1'], '--health-retries cannot be negative');
  refuses(['--health-start-period', '-1s'], '--health-start-period cannot be negative');
  refuses(['--health-start-interval', '-1s'], '--health-start-interval cannot be negative');
  refuses(
    ['--health-interval', '5'],
    'invalid argument "5" for "--health-interval" flag: time: missing unit in duration "5"',
  );
});
