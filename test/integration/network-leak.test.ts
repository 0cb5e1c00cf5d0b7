import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startEngine, type Engine } from './harness.js';
import {
  engineHostState,
  holdsOfDaemon,
  host,
  inPool,
  mountsOfEngine,
  ok,
} from './network-state.js';

// The network leak test of issue #5, in a file of its own: it takes minutes on a loaded
// two-core machine (1.5 to 3 here), and --test-timeout bounds a whole file.

let engine: Engine;
const suffix = randomBytes(3).toString('hex');

before(async () => {
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
});

const b = (...args: string[]): Promise<string> => ok(engine.berth(args));

const slow = { timeout: 900_000 };
test('no leak: 200 containers, networks, published ports come and go', slow, async () => {
  const netName = `nt-${suffix}-leak`;
  const start = await engineHostState(engine);
  const startMounts = await mountsOfEngine(engine);
  const startHolds = await holdsOfDaemon(engine);
  const netId = await b('network', 'create', netName);
  // The network's embedded DNS (UDP and TCP) is the daemon's too.
  const netHolds = await holdsOfDaemon(engine);
  const count = 200;
  // Fixed UDP ports too, from a block another engine on the host is unlikely to use.
  const udpBase = 20000 + 200 * Math.floor(Math.random() * 40);
  // A few at a time, as a busy host would: the daemon serialises network work anyway.
  const ids = await inPool(count, 4, (i) =>
    b(
      'run',
      '-d',
      '--network',
      i % 10 === 0 ? 'bridge' : netName,
      '-p',
      '80',
      '-p',
      `${udpBase + i}:81/udp`,
      'busybox',
      'sleep',
      '300',
    ),
  );
  const mid = await engineHostState(engine);
  assert.equal(mid.veths - start.veths, count);
  assert.equal(mid.leases - start.leases, count);
  // Two published ports each, both held.
  assert.equal((await holdsOfDaemon(engine)) - netHolds, 2 * count);
  await inPool(ids.length, 4, (i) => b('rm', '-f', ids[i] as string));
  await b('network', 'rm', netName);
  assert.deepEqual(await engineHostState(engine), start);
  assert.deepEqual(await mountsOfEngine(engine), startMounts);
  assert.equal(await holdsOfDaemon(engine), startHolds);
  const bridge = await host('ip', ['link', 'show', `br-${netId.slice(0, 12)}`]);
  assert.notEqual(bridge.code, 0, 'the bridge of a removed network is gone');
});
