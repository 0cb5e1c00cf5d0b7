import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HealthLogEntry, HealthState } from '../spec/engine.js';
import { mergeImageConfig } from './config.js';
import { filterContainers } from './filters.js';
import type { ContainerRecord } from './containers.js';
import {
  LimitedBuffer,
  applyProbeResult,
  goDurationString,
  healthSuffix,
  healthTimings,
  initialHealth,
  maxOutputLen,
  newHealthMonitors,
  nextProbeDelay,
  probeCommand,
  timeoutOutput,
  validateHealthcheck,
} from './health.js';

const started = '2026-01-01T00:00:00.000Z';
const at = (ms: number, exitCode: number): HealthLogEntry => ({
  Start: new Date(Date.parse(started) + ms).toISOString(),
  End: new Date(Date.parse(started) + ms + 10).toISOString(),
  ExitCode: exitCode,
  Output: '',
});

test('probe commands: CMD as given, CMD-SHELL through the shell, NONE and unknown none', () => {
  assert.deepEqual(probeCommand({ Healthcheck: { Test: ['CMD', 'true', 'x'] } }), ['true', 'x']);
  assert.deepEqual(probeCommand({ Healthcheck: { Test: ['CMD-SHELL', 'a && b'] } }), [
    '/bin/sh',
    '-c',
    'a && b',
  ]);
  assert.deepEqual(
    probeCommand({ Shell: ['/bin/ash', '-ec'], Healthcheck: { Test: ['CMD-SHELL', 'x'] } }),
    ['/bin/ash', '-ec', 'x'],
  );
  assert.equal(probeCommand({ Healthcheck: { Test: ['NONE'] } }), undefined);
  assert.equal(probeCommand({ Healthcheck: { Test: ['BOGUS', 'x'] } }), undefined);
  assert.equal(probeCommand({ Healthcheck: { Test: [] } }), undefined);
  assert.equal(probeCommand({}), undefined);
});

test('timings take dockerd defaults for zeros: 30s, 30s, 0, 5s, 3 retries', () => {
  assert.deepEqual(healthTimings({ Test: ['CMD', 'true'] }), {
    intervalMs: 30_000,
    timeoutMs: 30_000,
    startPeriodMs: 0,
    startIntervalMs: 5000,
    retries: 3,
  });
  assert.deepEqual(
    healthTimings({
      Interval: 1e9,
      Timeout: 2e9,
      StartPeriod: 3e9,
      StartInterval: 4e8,
      Retries: 7,
    }),
    { intervalMs: 1000, timeoutMs: 2000, startPeriodMs: 3000, startIntervalMs: 400, retries: 7 },
  );
});

test('a success is healthy at once; failures count up to retries, then unhealthy', () => {
  const opts = { retries: 2, startPeriodMs: 0, startedAt: started };
  let h: HealthState = initialHealth(undefined);
  h = applyProbeResult(h, at(1000, 1), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 1]);
  h = applyProbeResult(h, at(2000, 1), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = applyProbeResult(h, at(3000, 0), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  h = applyProbeResult(h, at(4000, 1), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1]);
  assert.equal(h.Log.length, 4);
});

test('within the start period failures of a starting container do not count', () => {
  const opts = { retries: 1, startPeriodMs: 5000, startedAt: started };
  let h = initialHealth(undefined);
  h = applyProbeResult(h, at(1000, 1), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  h = applyProbeResult(h, at(6000, 1), opts);
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 1]);
  // Once healthy, the start period no longer shields failures.
  let g = applyProbeResult(initialHealth(undefined), at(1000, 0), opts);
  g = applyProbeResult(g, at(2000, 1), opts);
  assert.deepEqual([g.Status, g.FailingStreak], ['unhealthy', 1]);
});

test('the log keeps the last five results; a restart keeps the log, resets status and streak', () => {
  const opts = { retries: 3, startPeriodMs: 0, startedAt: started };
  let h = initialHealth(undefined);
  for (let i = 1; i <= 7; i++) h = applyProbeResult(h, at(i * 1000, i), opts);
  assert.equal(h.Log.length, 5);
  assert.deepEqual(
    h.Log.map((l) => l.ExitCode),
    [3, 4, 5, 6, 7],
  );
  const again = initialHealth(h);
  assert.deepEqual([again.Status, again.FailingStreak, again.Log.length], ['starting', 0, 5]);
});

test('the start interval applies while starting within the start period', () => {
  const t = { intervalMs: 30_000, startPeriodMs: 10_000, startIntervalMs: 500 };
  assert.equal(nextProbeDelay(t, 'starting', 1000), 500);
  assert.equal(nextProbeDelay(t, 'healthy', 1000), 30_000);
  assert.equal(nextProbeDelay(t, 'starting', 10_000), 30_000);
  assert.equal(nextProbeDelay({ ...t, startPeriodMs: 0 }, 'starting', 0), 30_000);
});

test('probe output is cut at 4096 bytes with "..."', () => {
  const b = new LimitedBuffer();
  b.write(Buffer.from('x'.repeat(4000)));
  b.write(Buffer.from('y'.repeat(200)));
  const out = b.text();
  assert.equal(out, `${'x'.repeat(4000)}${'y'.repeat(maxOutputLen - 4000)}...`);
  const small = new LimitedBuffer();
  small.write(Buffer.from('hi\n'));
  assert.equal(small.text(), 'hi\n');
});

test('timeouts are told with Go duration text', () => {
  assert.equal(goDurationString(1e9), '1s');
  assert.equal(goDurationString(5e8), '500ms');
  assert.equal(goDurationString(1.5e9), '1.5s');
  assert.equal(goDurationString(90e9), '1m30s');
  assert.equal(goDurationString(3600e9), '1h0m0s');
  assert.equal(goDurationString(1500), '1.5µs');
  assert.equal(timeoutOutput(1e9, ''), 'Health check exceeded timeout (1s)');
  assert.equal(timeoutOutput(2e9, 'partial'), 'Health check exceeded timeout (2s): partial');
});

test('healthcheck validation as dockerd words it', () => {
  // docker-py sends null for the fields it leaves unset; dockerd reads them as 0 (default).
  validateHealthcheck({
    Test: ['CMD', 'true'],
    Interval: 1e9,
    Timeout: null,
    StartPeriod: null,
    Retries: null,
  } as unknown as Parameters<typeof validateHealthcheck>[0]);
  assert.throws(
    () => validateHealthcheck({ Interval: 500_000 }),
    /^.*Interval in Healthcheck cannot be less than 1ms$/,
  );
  assert.throws(
    () => validateHealthcheck({ Timeout: 1 }),
    /Timeout in Healthcheck cannot be less than 1ms/,
  );
  assert.throws(
    () => validateHealthcheck({ Retries: -1 }),
    /Retries in Healthcheck cannot be negative/,
  );
  assert.throws(
    () => validateHealthcheck({ StartPeriod: 1 }),
    /StartPeriod in Healthcheck cannot be less than 1ms/,
  );
  assert.throws(
    () => validateHealthcheck({ StartInterval: 1 }),
    /StartInterval in Healthcheck cannot be less than 1ms/,
  );
  validateHealthcheck({ Interval: 0, Timeout: 1e6 });
  validateHealthcheck(null);
});

test('the image healthcheck fills in what the user left zero', () => {
  const image = { Healthcheck: { Test: ['CMD', 'probe'], Interval: 5e9, Retries: 2 } };
  assert.deepEqual(mergeImageConfig({}, image).Healthcheck, image.Healthcheck);
  assert.deepEqual(mergeImageConfig({ Healthcheck: { Interval: 1e9 } }, image).Healthcheck, {
    Test: ['CMD', 'probe'],
    Interval: 1e9,
    Retries: 2,
  });
  assert.deepEqual(mergeImageConfig({ Healthcheck: { Test: ['NONE'] } }, image).Healthcheck, {
    Test: ['NONE'],
    Interval: 5e9,
    Retries: 2,
  });
  assert.equal(mergeImageConfig({}, {}).Healthcheck, undefined);
});

test('ps status suffix and the health= filter', () => {
  assert.equal(healthSuffix(undefined), '');
  assert.equal(
    healthSuffix({ Status: 'starting', FailingStreak: 0, Log: [] }),
    ' (health: starting)',
  );
  assert.equal(healthSuffix({ Status: 'healthy', FailingStreak: 0, Log: [] }), ' (healthy)');
  const rec = (id: string, health?: HealthState): ContainerRecord =>
    ({
      id,
      name: id,
      created: started,
      imageRef: 'busybox',
      imageId: 'sha256:x',
      config: {},
      state: { status: 'running', ...(health ? { health } : {}) },
    }) as unknown as ContainerRecord;
  const records = [
    rec('aa', { Status: 'healthy', FailingStreak: 0, Log: [] }),
    rec('bb', { Status: 'unhealthy', FailingStreak: 3, Log: [] }),
    rec('cc'),
  ];
  const ids = (v: string[]): string[] =>
    filterContainers(records, { health: v }, { pruning: false }).map((r) => r.id);
  assert.deepEqual(ids(['healthy']), ['aa']);
  assert.deepEqual(ids(['none']), ['cc']);
  assert.deepEqual(ids(['healthy', 'unhealthy']), ['aa', 'bb']);
  assert.throws(
    () => ids(['bogus']),
    /invalid filter 'health=bogus': invalid value for health \(bogus\): must be one of none, starting, healthy, unhealthy/,
  );
});

test('the monitor probes, records, kills a probe past its timeout and stops at once', async () => {
  const config = {
    Healthcheck: { Test: ['CMD', 'probe'], Interval: 1e7, Timeout: 5e7, Retries: 1 },
  };
  const state: { health: HealthState | undefined; events: string[]; kills: number } = {
    health: undefined,
    events: [],
    kills: 0,
  };
  let mode: 'pass' | 'hang' = 'pass';
  const monitors = newHealthMonitors({
    exec: async (_id, cmd, output) => {
      assert.deepEqual(cmd, ['probe']);
      if (mode === 'pass') {
        output.write(Buffer.from('ok'));
        return { exited: Promise.resolve(0), kill: async () => undefined };
      }
      let die: (code: number) => void = () => undefined;
      const exited = new Promise<number>((resolve) => (die = resolve));
      output.write(Buffer.from('partial'));
      return {
        exited,
        kill: async () => {
          state.kills++;
          die(137);
        },
      };
    },
    current: () => ({ config, startedAt: new Date().toISOString(), health: state.health }),
    update: async (_id, health, changed, live) => {
      if (!live()) return;
      state.health = health;
      if (changed) state.events.push(health.Status);
    },
  });
  const until = async (ok: () => boolean): Promise<void> => {
    const end = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > end) assert.fail(`never: ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  state.health = initialHealth(undefined);
  monitors.start('c1');
  await until(() => state.health?.Status === 'healthy');
  assert.equal(state.health?.Log[0]?.Output, 'ok');
  mode = 'hang';
  await until(() => state.health?.Status === 'unhealthy');
  assert.equal(state.health?.Log.at(-1)?.Output, 'Health check exceeded timeout (50ms): partial');
  assert.equal(state.health?.Log.at(-1)?.ExitCode, -1);
  assert.ok(state.kills >= 1);
  assert.deepEqual(state.events.slice(0, 2), ['healthy', 'unhealthy']);
  assert.equal(monitors.stop('c1'), true);
  assert.equal(monitors.stop('c1'), false);
  const frozen = JSON.stringify(state.health);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(JSON.stringify(state.health), frozen);
  await monitors.close();
});
