import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { after, before, test } from 'node:test';
import { processesMentioning, startEngine, type Engine } from './harness.js';

// kill -9 of berthd at spread instants inside create, start and rm: the next berthd reads its
// state without loss, finishes or rolls back the half-done step, and leaves nothing orphaned.

let engine: Engine;

before(async () => {
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
});

async function mountsUnder(prefix: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${prefix}/`));
}

async function snapshotRecords(): Promise<number> {
  const dir = `${engine.dataRoot}/snapshots/overlay/records`;
  return (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).length;
}

test('crashes during create/start/rm lose nothing and orphan nothing', async () => {
  const layers = await snapshotRecords();
  for (const delayMs of [5, 20, 40, 70, 110, 160, 230, 320]) {
    const runs = [1, 2, 3].map((i) =>
      engine
        .berth(['run', '-d', '--name', `crash-${delayMs}-${i}`, 'busybox', 'sleep', '600'])
        .catch(() => undefined),
    );
    const removals = engine.berth(['rm', '-f', `crash-${delayMs - 1}-1`]).catch(() => undefined);
    await new Promise((r) => setTimeout(r, delayMs));
    await engine.crash();
    await Promise.all([...runs, removals]);
    await engine.restart();

    const ps = await engine.berth(['ps', '-a', '--format', '{{.ID}} {{.Names}} {{.State}}']);
    assert.equal(ps.code, 0, ps.stderr);
    for (const line of ps.stdout.split('\n').filter(Boolean)) {
      const [id = '', , state = ''] = line.split(' ');
      const inspect = await engine.berth(['inspect', '--format', '{{.State.Status}}', id]);
      assert.equal(inspect.code, 0, `${line}: ${inspect.stderr}`);
      assert.ok(['created', 'running', 'exited'].includes(state), `${line}: unexpected state`);
      if (state === 'running') {
        const exec = await engine.berth(['exec', id, 'true']);
        assert.equal(exec.code, 0, `exec into ${line}: ${exec.stderr}`);
      }
    }
  }
  // Every container can be removed, and then nothing is left but the image's layers.
  const all = (await engine.berth(['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean);
  if (all.length > 0) {
    const rm = await engine.berth(['rm', '-f', ...all]);
    assert.equal(rm.code, 0, rm.stderr);
  }
  assert.equal((await engine.berth(['ps', '-a', '-q'])).stdout, '');
  assert.equal(await snapshotRecords(), layers, 'container snapshots all removed');
  assert.deepEqual(await mountsUnder(engine.execRoot), []);
  assert.deepEqual(await mountsUnder(engine.dataRoot), []);
  const daemonPid = engine.daemon?.pid;
  const leftovers = (await processesMentioning(engine.execRoot)).filter((p) => p !== daemonPid);
  assert.deepEqual(leftovers, [], 'no conmon or runc processes left');
  const tasks = await fs.readdir(`${engine.execRoot}/tasks`);
  assert.deepEqual(tasks, [], 'no runtime state left');
});
