import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { newClient, type EngineClient } from '../../src/client/client.js';
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

describe('detach keys, engine side (the docker CLI leaves them to the engine)', () => {
  const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';

  /**
   * Attaches to a running `cat` container and sends `input`; once `echo` has come back, sends
   * `last` (if any), then reads until the engine ends the stream or the test closes its side.
   */
  async function attachCat(
    client: EngineClient,
    tty: boolean,
    detachKeys: string,
    input: Buffer,
    echo: Buffer,
    last?: Buffer,
  ): Promise<{ id: string; output: Buffer; running: boolean }> {
    const { Id: id } = await client.containerCreate({
      Image: 'busybox',
      Cmd: ['cat'],
      Tty: tty,
      OpenStdin: true,
    });
    await client.containerStart(id);
    const hj = await client.containerAttach(id, {
      stdin: true,
      stdout: true,
      stderr: true,
      tty,
      detachKeys,
    });
    let output = Buffer.alloc(0);
    let sentLast = false;
    const ended = new Promise<void>((resolve) => {
      hj.socket.on('data', (b: Buffer) => {
        output = Buffer.concat([output, b]);
        if (sentLast || !output.includes(echo)) return;
        sentLast = true;
        if (last) hj.socket.write(last);
        else hj.socket.end();
      });
      hj.socket.once('end', resolve);
      hj.socket.once('close', resolve);
    });
    hj.socket.write(input);
    await ended;
    hj.socket.destroy();
    const state = await client.json<{ State: { Running: boolean } }>(
      'GET',
      `/containers/${id}/json`,
    );
    return { id, output, running: state.State.Running };
  }

  for (const [peer, host] of [
    ['berthd', () => engine.host],
    ['the anchor dockerd', () => anchorHost],
  ] as const) {
    test(`${peer}: a TTY detaches on the given keys; a non-TTY stdin passes them through`, async () => {
      const client = newClient(host());
      const made: string[] = [];
      try {
        const t = await attachCat(
          client,
          true,
          'ctrl-x,y',
          Buffer.from('hi\n'),
          Buffer.from('hi'),
          Buffer.from('\x18y'),
        );
        made.push(t.id);
        assert.ok(t.running, 'the TTY container keeps running after the detach');
        // Multiplexed: the echo is in a stdout frame, with the default keys' bytes intact.
        const bytes = Buffer.from('a\x10\x11b\n');
        const n = await attachCat(client, false, '', bytes, bytes);
        made.push(n.id);
        const bad = await client
          .containerAttach(t.id, {
            stdin: true,
            stdout: true,
            stderr: true,
            tty: true,
            detachKeys: 'ctrl-1',
          })
          .then(
            () => undefined,
            (err: unknown) => err as { statusCode?: number; message: string },
          );
        assert.equal(bad?.statusCode, 400);
        assert.match(bad?.message ?? '', /Invalid detach keys \(ctrl-1\) provided/);
      } finally {
        for (const id of made) await client.containerRemove(id, { force: true });
      }
    });
  }
});

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
    // --pull=never: no registry is reached (a pull would go to docker.io).
    const r = await engine.berth(['run', '--rm', '--pull=never', 'nosuchimage:1', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /No such image: nosuchimage:1/);
    assert.equal(r.stderr.trim().split('\n').length <= 2, true);
    assert.equal((await engine.berth(['ps', '-a', '-q'])).stdout, before.stdout);
  });

  test('create of an unknown image fails as docker create does: the message, exit 1', async () => {
    const r = await engine.berth(['create', '--pull=never', 'nosuchimage:1', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: No such image: nosuchimage:1\n');
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

/** Runs a berth command line under a pseudo-terminal (util-linux's script), as a user would. */
function inTerminal(commandLine: string, input = ''): Promise<{ code: number; stdout: string }> {
  return runCommand(
    'script',
    ['-qec', commandLine, '/dev/null'],
    { BERTH_HOST: engine.host },
    { input },
  );
}

describe('terminals and run flags', () => {
  const berthCmd = `${process.execPath} ${berthBin}`;

  test('run -it and exec -it give the process a terminal and pass the exit code', async () => {
    const run = await inTerminal(
      `${berthCmd} run --rm -it busybox sh -c 'tty; echo $TERM; exit 5'`,
    );
    assert.equal(run.code, 5);
    // Raw mode as docker's: the container's \r\n arrives as it is, not as \r\r\n.
    assert.match(run.stdout, /\/dev\/pts\/\d+\r\nxterm\r\n/);
    await engine.berth(['run', '-d', '--name', 'termy', 'busybox', 'sleep', '600']);
    const exec = await inTerminal(`${berthCmd} exec -it termy sh -c 'tty; exit 6'`);
    assert.equal(exec.code, 6);
    assert.match(exec.stdout, /\/dev\/pts\/\d+\r\n/);
    await engine.berth(['rm', '-f', 'termy']);
  });

  test('ctrl-p ctrl-q detaches and leaves the container running', async () => {
    // Typed once the CLI has the terminal in raw mode (before, the tty would take ctrl-q as
    // XON), and stdin kept open after, as a user's keyboard is.
    const typing = "(sleep 1.5; printf 'echo typed\\n\\020\\021'; sleep 5)";
    const r = await runCommand(
      'sh',
      ['-c', `${typing} | script -qec '${berthCmd} run -it --name detached busybox sh' /dev/null`],
      { BERTH_HOST: engine.host },
    );
    assert.equal(r.code, 0);
    const st = await engine.berth(['inspect', '--format', '{{.State.Status}}', 'detached']);
    assert.equal(st.stdout, 'running\n');
    await engine.berth(['rm', '-f', 'detached']);
  });

  test('a reader that goes away ends the CLI quietly, as SIGPIPE ends the docker CLI', async () => {
    await engine.berth(['run', '--name', 'chatty', 'busybox', 'seq', '1', '200000']);
    const r = await runCommand(
      'bash',
      ['-c', `${berthCmd} logs chatty | head -n 1; echo "rc=\${PIPESTATUS[0]}" >&2`],
      { BERTH_HOST: engine.host },
    );
    assert.equal(r.stdout, '1\n');
    assert.equal(r.stderr, 'rc=141\n');
    await engine.berth(['rm', 'chatty']);
  });

  test('--init, --env-file, --label-file and --cidfile', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-flags-'));
    try {
      await writeFile(path.join(dir, 'env'), 'A=1\n# a comment\nB=two words\n');
      await writeFile(path.join(dir, 'labels'), 'team=blue\n');
      const init = await engine.berth(['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,comm']);
      assert.match(init.stdout, /^\s*1 docker-init$/m);
      const env = await engine.berth([
        'run',
        '--rm',
        '--env-file',
        path.join(dir, 'env'),
        'busybox',
        'sh',
        '-c',
        'echo "$A|$B"',
      ]);
      assert.equal(env.stdout, '1|two words\n');
      const cidfile = path.join(dir, 'cid');
      const run = await engine.berth([
        'run',
        '-d',
        '--name',
        'labelled',
        '--cidfile',
        cidfile,
        '--label-file',
        path.join(dir, 'labels'),
        '-l',
        'tier=web',
        'busybox',
        'true',
      ]);
      assert.equal(await readFile(cidfile, 'utf8'), run.stdout.trim());
      const labels = await engine.berth([
        'inspect',
        '--format',
        '{{json .Config.Labels}}',
        'labelled',
      ]);
      assert.deepEqual(JSON.parse(labels.stdout), { team: 'blue', tier: 'web' });
      await engine.berth(['rm', '-f', 'labelled']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
    // --restart policies resume: a container that exits while berthd is down is restarted.
    await engine.berth([
      'run',
      '-d',
      '--name',
      'phoenix',
      '--restart',
      'always',
      'busybox',
      'sh',
      '-c',
      'sleep 1; exit 1',
    ]);
    await engine.crash();
    await new Promise((r) => setTimeout(r, 1500));
    await engine.restart();
    await waitFor('phoenix restarted', async () => {
      const r = await engine.berth(['inspect', '--format', '{{.RestartCount}}', 'phoenix']);
      return Number(r.stdout.trim()) >= 1;
    });
    assert.equal((await engine.berth(['rm', '-f', 'phoenix'])).code, 0);
    assert.equal(
      (await engine.berth(['inspect', '--format', '{{.State.Status}}', 'survivor'])).stdout,
      'running\n',
    );
    assert.equal((await engine.berth(['rm', '-f', 'survivor', 'quitter'])).code, 0);
  });
});
