import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// Healthchecks end to end: real probes exec'd in busybox containers, driven by the berth CLI
// and the docker CLI, and the same commands against the anchor dockerd for comparison.

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

let engine: Engine;
const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorContainers: string[] = [];

before(async () => {
  engine = await startEngine();
});

after(async () => {
  for (const name of anchorContainers) await anchor(['rm', '-f', name]);
  await engine?.stop();
});

function anchor(args: string[]): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: anchorHost });
}

async function must(p: Promise<CommandResult>, what: string): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

async function health(
  run: (args: string[]) => Promise<CommandResult>,
  name: string,
): Promise<Health | null> {
  const out = await must(run(['inspect', '-f', '{{json .State.Health}}', name]), `inspect ${name}`);
  return JSON.parse(out) as Health | null;
}

/** Polls until `ok` holds of the container's health, failing after a bounded wait. */
async function waitHealth(
  name: string,
  ok: (h: Health) => boolean,
  run: (args: string[]) => Promise<CommandResult> = (a) => engine.docker(a),
  deadlineMs = 30_000,
): Promise<Health> {
  const end = Date.now() + deadlineMs;
  let last: Health | null = null;
  while (Date.now() < end) {
    last = await health(run, name);
    if (last && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${name}: health never got there; last ${JSON.stringify(last)}`);
}

async function psStatus(
  run: (args: string[]) => Promise<CommandResult>,
  name: string,
): Promise<string> {
  const out = await must(
    run(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}']),
    'ps',
  );
  return out.trim();
}

async function psNames(filter: string): Promise<string[]> {
  const out = await must(engine.docker(['ps', '--filter', filter, '--format', '{{.Names}}']), 'ps');
  return out.split('\n').filter((n) => n.startsWith('hc-'));
}

test('a passing probe makes the container healthy; ps, inspect and events tell it', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await must(
    engine.berth([
      'run',
      '-d',
      '--name',
      'hc-ok',
      '--health-cmd',
      'echo hi; true',
      '--health-interval',
      '1s',
      'busybox',
      'sleep',
      '600',
    ]),
    'run hc-ok',
  );
  const config = await must(
    engine.docker(['inspect', '-f', '{{json .Config.Healthcheck}}', 'hc-ok']),
    'inspect',
  );
  assert.deepEqual(JSON.parse(config), { Test: ['CMD-SHELL', 'echo hi; true'], Interval: 1e9 });
  const h = await waitHealth('hc-ok', (x) => x.Status === 'healthy');
  assert.equal(h.FailingStreak, 0);
  assert.ok(h.Log.length >= 1 && h.Log.length <= 5);
  assert.deepEqual(
    { ExitCode: h.Log[0]?.ExitCode, Output: h.Log[0]?.Output },
    { ExitCode: 0, Output: 'hi\n' },
  );
  assert.ok(Date.parse(h.Log[0]?.End ?? '') >= Date.parse(h.Log[0]?.Start ?? ''));
  assert.match(await psStatus((a) => engine.berth(a), 'hc-ok'), /^Up .+ \(healthy\)$/);
  assert.match(await psStatus((a) => engine.docker(a), 'hc-ok'), /^Up .+ \(healthy\)$/);
  // The log keeps the last five.
  const full = await waitHealth('hc-ok', (x) => x.Log.length === 5, undefined, 40_000);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await health((a) => engine.docker(a), 'hc-ok'))?.Log.length, 5);
  assert.equal(full.Status, 'healthy');

  const until = Math.ceil(Date.now() / 1000);
  const events = await must(
    engine.docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'container=hc-ok',
      '--format',
      '{{.Action}}|{{index .Actor.Attributes "execID"}}|{{index .Actor.Attributes "exitCode"}}',
    ]),
    'events',
  );
  const lines = events.trim().split('\n');
  const actions = lines.map((l) => l.split('|')[0]);
  assert.equal(actions.filter((a) => a === 'health_status: healthy').length, 1, events);
  const create = lines.find((l) => l.startsWith('exec_create: /bin/sh -c echo hi; true|'));
  assert.ok(create, events);
  const execId = create.split('|')[1] ?? '';
  assert.match(execId, /^[0-9a-f]{64}$/);
  assert.ok(lines.includes(`exec_start: /bin/sh -c echo hi; true|${execId}|`), events);
  assert.ok(lines.includes(`exec_die|${execId}|0`), events);
  // Probe execs are not left behind as the container's exec instances.
  const execIds = await must(
    engine.docker(['inspect', '-f', '{{json .ExecIDs}}', 'hc-ok']),
    'inspect',
  );
  assert.ok(((JSON.parse(execIds) as string[] | null) ?? []).length <= 1, execIds);
});

test('a failing probe makes it unhealthy after the retries', async () => {
  await must(
    engine.docker([
      'run',
      '-d',
      '--name',
      'hc-bad',
      '--health-cmd',
      'echo nope >&2; exit 3',
      '--health-interval',
      '1s',
      '--health-retries',
      '2',
      'busybox',
      'sleep',
      '600',
    ]),
    'run hc-bad',
  );
  const h = await waitHealth('hc-bad', (x) => x.Status === 'unhealthy');
  assert.ok(h.FailingStreak >= 2, JSON.stringify(h));
  assert.deepEqual(
    { ExitCode: h.Log[0]?.ExitCode, Output: h.Log[0]?.Output },
    { ExitCode: 3, Output: 'nope\n' },
  );
  assert.match(await psStatus((a) => engine.berth(a), 'hc-bad'), /^Up .+ \(unhealthy\)$/);
});

test('a probe past its timeout is killed and counts as failed, in dockerd words', async () => {
  await must(
    engine.berth([
      'run',
      '-d',
      '--name',
      'hc-slow',
      '--health-cmd',
      'sleep 30',
      '--health-interval',
      '1s',
      '--health-timeout',
      '1s',
      '--health-retries',
      '1',
      'busybox',
      'sleep',
      '600',
    ]),
    'run hc-slow',
  );
  const h = await waitHealth('hc-slow', (x) => x.Status === 'unhealthy');
  assert.deepEqual(
    { ExitCode: h.Log[0]?.ExitCode, Output: h.Log[0]?.Output },
    { ExitCode: -1, Output: 'Health check exceeded timeout (1s)' },
  );
  // The killed probe is gone from the container.
  const top = await must(engine.docker(['top', 'hc-slow']), 'top');
  const deadline = Date.now() + 10_000;
  let procs = top;
  while (Date.now() < deadline && /sleep 30/.test(procs)) {
    await new Promise((r) => setTimeout(r, 200));
    procs = await must(engine.docker(['top', 'hc-slow']), 'top');
  }
  // At most the probe in flight may run; never one per past interval.
  assert.ok((procs.match(/sleep 30/g) ?? []).length <= 1, procs);
});

test('the start period keeps failures from counting while starting', async () => {
  await must(
    engine.berth([
      'run',
      '-d',
      '--name',
      'hc-warm',
      '--health-cmd',
      'false',
      '--health-interval',
      '1s',
      '--health-start-interval',
      '1s',
      '--health-start-period',
      '1h',
      '--health-retries',
      '1',
      'busybox',
      'sleep',
      '600',
    ]),
    'run hc-warm',
  );
  const h = await waitHealth('hc-warm', (x) => x.Log.length >= 2);
  assert.equal(h.Status, 'starting');
  assert.equal(h.FailingStreak, 0);
  assert.match(await psStatus((a) => engine.berth(a), 'hc-warm'), /^Up .+ \(health: starting\)$/);
});

test('ps --filter health= picks containers by health', async () => {
  await must(engine.berth(['run', '-d', '--name', 'hc-plain', 'busybox', 'sleep', '600']), 'run');
  await waitHealth('hc-ok', (x) => x.Status === 'healthy');
  await waitHealth('hc-bad', (x) => x.Status === 'unhealthy');
  assert.deepEqual(await psNames('health=healthy'), ['hc-ok']);
  assert.deepEqual((await psNames('health=unhealthy')).sort(), ['hc-bad', 'hc-slow']);
  assert.deepEqual(await psNames('health=starting'), ['hc-warm']);
  assert.deepEqual(await psNames('health=none'), ['hc-plain']);
  const bad = await engine.docker(['ps', '--filter', 'health=bogus']);
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stderr.trim(),
    "Error response from daemon: invalid filter 'health=bogus': invalid value for health (bogus): must be one of none, starting, healthy, unhealthy",
  );
});

test('HEALTHCHECK from the image, --no-healthcheck, and refused values', async () => {
  await must(
    engine.berth([
      'commit',
      '--change',
      'HEALTHCHECK --interval=1s --retries=1 CMD ["true"]',
      'hc-plain',
      'hc-img',
    ]),
    'commit',
  );
  await must(engine.berth(['run', '-d', '--name', 'hc-fromimg', 'hc-img', 'sleep', '600']), 'run');
  const config = await must(
    engine.docker(['inspect', '-f', '{{json .Config.Healthcheck}}', 'hc-fromimg']),
    'inspect',
  );
  assert.deepEqual(JSON.parse(config), { Test: ['CMD', 'true'], Interval: 1e9, Retries: 1 });
  await waitHealth('hc-fromimg', (x) => x.Status === 'healthy');

  await must(
    engine.docker(['run', '-d', '--name', 'hc-off', '--no-healthcheck', 'hc-img', 'sleep', '600']),
    'run',
  );
  assert.equal(await health((a) => engine.docker(a), 'hc-off'), null);
  assert.match(await psStatus((a) => engine.berth(a), 'hc-off'), /^Up [^(]+$/);
  assert.ok((await psNames('health=none')).includes('hc-off'));

  const conflict = await engine.berth([
    'create',
    '--no-healthcheck',
    '--health-retries',
    '2',
    'busybox',
  ]);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /--no-healthcheck conflicts with --health-\* options/);
  const short = await engine.docker(['create', '--health-interval', '500us', 'busybox']);
  // The docker CLI's create exits 1 on a daemon error (run would exit 125).
  assert.equal(short.code, 1);
  assert.match(
    short.stderr,
    /Error response from daemon: Interval in Healthcheck cannot be less than 1ms/,
  );
});

test('stop ends the monitor (unhealthy, log kept); start begins again from starting', async () => {
  const before = await waitHealth('hc-ok', (x) => x.Status === 'healthy');
  await must(engine.berth(['stop', '-t', '0', 'hc-ok']), 'stop');
  const stopped = await health((a) => engine.docker(a), 'hc-ok');
  assert.equal(stopped?.Status, 'unhealthy');
  assert.ok((stopped?.Log.length ?? 0) >= 1);
  assert.equal(stopped?.Log[0]?.Start !== undefined, true);
  // No probe runs while stopped.
  await new Promise((r) => setTimeout(r, 2000));
  assert.deepEqual(await health((a) => engine.docker(a), 'hc-ok'), stopped);
  await must(engine.berth(['start', 'hc-ok']), 'start');
  const last = before.Log.at(-1)?.End ?? '';
  const again = await waitHealth(
    'hc-ok',
    (x) => x.Status === 'healthy' && (x.Log.at(-1)?.End ?? '') > last,
  );
  assert.equal(again.FailingStreak, 0);
});

test('health survives a berthd crash and the monitor resumes after live-restore', async () => {
  const before = await waitHealth('hc-ok', (x) => x.Status === 'healthy');
  const bad = await waitHealth('hc-bad', (x) => x.Status === 'unhealthy');
  await engine.crash();
  await engine.restart();
  // dockerd's restore re-initialises the monitor: starting again with the log kept.
  const restored = await health((a) => engine.docker(a), 'hc-ok');
  assert.ok(restored, 'State.Health is gone after the restart');
  for (const entry of before.Log.slice(-1)) {
    assert.ok(
      restored.Log.some((l) => l.Start === entry.Start),
      `log entry ${entry.Start} lost: ${JSON.stringify(restored)}`,
    );
  }
  const last = before.Log.at(-1)?.End ?? '';
  await waitHealth('hc-ok', (x) => x.Status === 'healthy' && (x.Log.at(-1)?.End ?? '') > last);
  const lastBad = bad.Log.at(-1)?.End ?? '';
  await waitHealth(
    'hc-bad',
    (x) => x.Status === 'unhealthy' && (x.Log.at(-1)?.End ?? '') > lastBad,
  );
  assert.match(await psStatus((a) => engine.berth(a), 'hc-ok'), /^Up .+ \(healthy\)$/);
});

test('the anchor dockerd agrees on State.Health, ps status and probe events', async () => {
  const ping = await anchor(['version', '--format', '{{.Server.Version}}']);
  assert.equal(ping.code, 0, `the anchor dockerd at ${anchorHost} is unreachable: ${ping.stderr}`);
  const name = `hc-anchor-${process.pid}`;
  const args = [
    'run',
    '-d',
    '--name',
    name,
    '--health-cmd',
    'echo hi; exit 1',
    '--health-interval',
    '1s',
    '--health-retries',
    '2',
    'busybox',
    'sleep',
    '600',
  ];
  anchorContainers.push(name);
  const engines: [string, (a: string[]) => Promise<CommandResult>][] = [
    ['anchor', anchor],
    ['berth', (a) => engine.docker(a)],
  ];
  const seen: Record<string, unknown>[] = [];
  for (const [label, run] of engines) {
    const since = Math.floor(Date.now() / 1000) - 1;
    await must(run(args), `${label} run`);
    const h = await waitHealth(name, (x) => x.Status === 'unhealthy', run);
    const until = Math.ceil(Date.now() / 1000);
    const events = await must(
      run([
        'events',
        '--since',
        String(since),
        '--until',
        String(until),
        '--filter',
        `container=${name}`,
        '--format',
        '{{.Action}}',
      ]),
      `${label} events`,
    );
    const actions = [...new Set(events.trim().split('\n'))].sort();
    seen.push({
      keys: Object.keys(h).sort(),
      status: h.Status,
      first: { ExitCode: h.Log[0]?.ExitCode, Output: h.Log[0]?.Output },
      logKeys: Object.keys(h.Log[0] ?? {}).sort(),
      ps: (await psStatus(run, name)).replace(/^Up .+ \(/, 'Up X ('),
      actions,
    });
    await must(run(['rm', '-f', name]), `${label} rm`);
  }
  assert.deepEqual(seen[1], seen[0]);
});
