import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { berthBin, runCommand, startEngine, type Engine } from './harness.js';

// End-to-end: real containers through a real berthd, driven by bin/berth and the docker CLI.

let engine: Engine;

before(async () => {
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
});

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('berth run', () => {
  test('runs a command and prints its output; --rm removes the container', async () => {
    const r = await engine.berth(['run', '--rm', '--name', 'hello', 'busybox', 'echo', 'hello']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.code, 0);
    const ps = await engine.berth(['ps', '-a', '-q', '--filter', 'name=hello']);
    assert.equal(ps.stdout, '');
  });

  test("passes the container's exit code; 127 for a missing command", async () => {
    assert.equal((await engine.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3'])).code, 3);
    const missing = await engine.berth(['run', '--rm', 'busybox', 'nosuchcommand']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /nosuchcommand/);
  });

  test('stdout and stderr stay apart; -e and -w and -u reach the process', async () => {
    const r = await engine.berth([
      'run',
      '--rm',
      '-e',
      'GREETING=hi',
      '-w',
      '/tmp',
      '-u',
      '65534',
      'busybox',
      'sh',
      '-c',
      'echo $GREETING $(pwd) $(id -u); echo oops >&2',
    ]);
    assert.equal(r.stdout, 'hi /tmp 65534\n');
    assert.equal(r.stderr, 'oops\n');
  });

  test('-i passes stdin and closes it at its end', async () => {
    const r = await engine.berth(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo done'], {
      input: 'line one\nline two\n',
    });
    assert.equal(r.stdout, 'line one\nline two\ndone\n');
    assert.equal(r.code, 0);
  });

  test('an unknown image is a one-line error with exit 125 and changes nothing', async () => {
    const before = await engine.berth(['ps', '-a', '-q']);
    const r = await engine.berth(['run', '--rm', 'nosuchimage:1', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /No such image: nosuchimage:1/);
    assert.equal(r.stderr.trim().split('\n').length <= 2, true);
    assert.equal((await engine.berth(['ps', '-a', '-q'])).stdout, before.stdout);
  });

  test('an unknown flag fails with 125', async () => {
    const r = await engine.berth(['run', '--no-such-flag', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /no-such-flag/);
  });
});

describe('detached containers', () => {
  test('run -d, ps, logs, exec, stop, rm', async () => {
    const run = await engine.berth([
      'run',
      '-d',
      '--name',
      'web',
      'busybox',
      'sh',
      '-c',
      'echo started; exec httpd -f -p 8080',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);

    const ps = await engine.berth(['ps']);
    assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
    assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+.*Up .*\\s+web$`, 'm'));

    await waitFor(
      'log line',
      async () => (await engine.berth(['logs', 'web'])).stdout === 'started\n',
    );

    const exec = await engine.berth(['exec', 'web', 'sh', '-c', 'echo in $(hostname); exit 4']);
    assert.equal(exec.stdout, `in ${id.slice(0, 12)}\n`);
    assert.equal(exec.code, 4);

    const inspect = await engine.berth([
      'inspect',
      '--format',
      '{{.State.Status}} {{.Name}}',
      'web',
    ]);
    assert.equal(inspect.stdout, 'running /web\n');

    const stop = await engine.berth(['stop', '-t', '1', 'web']);
    assert.equal(stop.stdout, 'web\n');
    const exited = await engine.berth([
      'inspect',
      '--format',
      '{{.State.Status}} {{.State.ExitCode}}',
      'web',
    ]);
    assert.match(exited.stdout, /^exited (137|143)\n$/);

    const again = await engine.api('POST', '/containers/web/stop');
    assert.equal(again.status, 304);

    const rm = await engine.berth(['rm', 'web']);
    assert.equal(rm.stdout, 'web\n');
    const gone = await engine.berth(['inspect', 'web']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such (container|object): web/);
  });

  test('rm of a running container needs -f; name conflicts are refused', async () => {
    await engine.berth(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '600']);
    const dup = await engine.berth(['run', '-d', '--name', 'busy', 'busybox', 'true']);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /is already in use/);
    const rm = await engine.berth(['rm', 'busy']);
    assert.notEqual(rm.code, 0);
    assert.match(rm.stderr, /container is running/);
    assert.equal((await engine.berth(['rm', '-f', 'busy'])).code, 0);
  });

  test('pause and unpause freeze the container', async () => {
    await engine.berth(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '600']);
    assert.equal((await engine.berth(['pause', 'frozen'])).code, 0);
    const st = await engine.berth(['inspect', '--format', '{{.State.Status}}', 'frozen']);
    assert.equal(st.stdout, 'paused\n');
    assert.equal((await engine.berth(['unpause', 'frozen'])).code, 0);
    assert.equal((await engine.berth(['rm', '-f', 'frozen'])).code, 0);
  });

  test('restart policy on-failure restarts a failing container', async () => {
    await engine.berth([
      'run',
      '-d',
      '--name',
      'flaky',
      '--restart',
      'on-failure:2',
      'busybox',
      'sh',
      '-c',
      'echo run; exit 1',
    ]);
    await waitFor('two restarts', async () => {
      const r = await engine.berth([
        'inspect',
        '--format',
        '{{.RestartCount}} {{.State.Status}}',
        'flaky',
      ]);
      return r.stdout === '2 exited\n';
    });
    const logs = await engine.berth(['logs', 'flaky']);
    assert.equal(logs.stdout, 'run\nrun\nrun\n');
    await engine.berth(['rm', '-f', 'flaky']);
  });
});

describe('output through a slow pipe', () => {
  test('logs and run deliver everything before the CLI exits', async () => {
    const bytes = 6_000_000;
    const produce = `yes 0123456789abcdefghij | head -c ${bytes}`;
    // The reader starts late, so the pipe fills and the CLI's writes queue up.
    const slow = (cmd: string): Promise<{ stdout: string }> =>
      runCommand('sh', ['-c', `${cmd} | (sleep 0.5; wc -c)`], { BERTH_HOST: engine.host });
    const run = await slow(
      `${process.execPath} ${berthBin} run --name chatty busybox sh -c '${produce}'`,
    );
    assert.equal(run.stdout.trim(), String(bytes));
    const logs = await slow(`${process.execPath} ${berthBin} logs chatty`);
    assert.equal(logs.stdout.trim(), String(bytes));
    await engine.berth(['rm', 'chatty']);
  });
});

describe('the docker CLI drives berthd', () => {
  test('docker run, ps and rm', async () => {
    const run = await engine.docker(['run', '--rm', 'busybox', 'echo', 'from docker']);
    assert.equal(run.stdout, 'from docker\n', run.stderr);
    assert.equal(run.code, 0);
    const d = await engine.docker(['run', '-d', '--name', 'dk', 'busybox', 'sleep', '600']);
    assert.equal(d.code, 0, d.stderr);
    const ps = await engine.docker(['ps', '--format', '{{.Names}} {{.Image}}']);
    assert.match(ps.stdout, /^dk busybox$/m);
    const exec = await engine.docker(['exec', 'dk', 'echo', 'exec ok']);
    assert.equal(exec.stdout, 'exec ok\n');
    assert.equal((await engine.docker(['rm', '-f', 'dk'])).code, 0);
  });

  test('docker run -i with piped stdin', async () => {
    const r = await engine.docker(['run', '--rm', '-i', 'busybox', 'wc', '-l'], {
      input: 'a\nb\nc\n',
    });
    assert.equal(r.stdout.trim(), '3');
  });
});

describe('live-restore', () => {
  test('containers outlive a kill -9 of berthd; exits meanwhile are recorded', async () => {
    await engine.berth([
      'run',
      '-d',
      '--name',
      'survivor',
      'busybox',
      'sh',
      '-c',
      'while true; do echo tick; sleep 0.2; done',
    ]);
    await engine.berth([
      'run',
      '-d',
      '--name',
      'quitter',
      'busybox',
      'sh',
      '-c',
      'sleep 1; exit 7',
    ]);
    await engine.crash();
    await new Promise((r) => setTimeout(r, 1500));
    await engine.restart();
    const survivor = await engine.berth(['inspect', '--format', '{{.State.Status}}', 'survivor']);
    assert.equal(survivor.stdout, 'running\n');
    const quitter = await engine.berth([
      'inspect',
      '--format',
      '{{.State.Status}} {{.State.ExitCode}}',
      'quitter',
    ]);
    assert.equal(quitter.stdout, 'exited 7\n');
    const before = (await engine.berth(['logs', 'survivor'])).stdout.split('\n').length;
    await new Promise((r) => setTimeout(r, 600));
    const later = (await engine.berth(['logs', 'survivor'])).stdout.split('\n').length;
    assert.ok(later > before, 'logs keep being written');
    const exec = await engine.berth(['exec', 'survivor', 'echo', 'still here']);
    assert.equal(exec.stdout, 'still here\n');
    await engine.stopDaemon();
    await engine.restart();
    assert.equal(
      (await engine.berth(['inspect', '--format', '{{.State.Status}}', 'survivor'])).stdout,
      'running\n',
    );
    assert.equal((await engine.berth(['rm', '-f', 'survivor', 'quitter'])).code, 0);
  });
});
