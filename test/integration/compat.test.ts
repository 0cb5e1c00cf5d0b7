import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';
import { normalize, outcome, type NormalizeOptions, type Outcome } from './normalize.js';

// The compatibility suite (issue #2): the same docker CLI command against berthd and against
// the anchor dockerd (shared/bench/anchors.sh), compared after normalising what legitimately
// differs. The anchor is Docker 20.10 (API 1.41); berth speaks API 1.47 and words its errors
// as current dockerd does, so where dockerd itself changed its words since 20.10 the test says
// so explicitly and rewrites the anchor's message to the current one (`current`) — the rest of
// the line must still match.

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';
const sfx = randomBytes(3).toString('hex');
/** Every container and image this suite makes is named under this prefix, on both engines. */
const p = `compat-${sfx}`;
const image = `${p}-img:latest`;

let engine: Engine;
let tmp: string;
const anchorContainers = new Set<string>();
const anchorImages = new Set<string>();

function anchor(args: string[], options?: { input?: string }): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: anchorHost }, options);
}

async function both(
  args: string[],
  options?: { input?: string },
): Promise<{ a: CommandResult; b: CommandResult }> {
  const a = await anchor(args, options);
  const b = await engine.docker(args, options);
  return { a, b };
}

async function must(r: Promise<CommandResult>, what: string): Promise<CommandResult> {
  const out = await r;
  assert.equal(out.code, 0, `${what}: ${out.stderr}`);
  return out;
}

/** Runs a setup step on both engines; it must succeed on both. */
async function setup(args: string[]): Promise<void> {
  await must(anchor(args), `anchor: docker ${args.join(' ')}`);
  await must(engine.docker(args), `berth: docker ${args.join(' ')}`);
}

interface Compare extends NormalizeOptions {
  /** Shapes both outcomes further (a column left out, a key part kept). */
  shape?: (o: Outcome) => Outcome;
  /** An expected difference: turns the anchor's outcome into what berth should print. */
  current?: (o: Outcome) => Outcome;
  input?: string;
}

/** The docker CLI against both engines: same stdout, same first line of stderr, same code. */
async function same(args: string[], options: Compare = {}): Promise<Outcome> {
  const { a, b } = await both(args, options.input !== undefined ? { input: options.input } : {});
  const shape = options.shape ?? ((o: Outcome): Outcome => o);
  let want = shape(outcome(a, options));
  if (options.current) want = options.current(want);
  const got = shape(outcome(b, options));
  assert.deepEqual(
    got,
    want,
    `docker ${args.join(' ')}\nanchor: ${JSON.stringify(a)}\nberth:  ${JSON.stringify(b)}`,
  );
  return got;
}

function onStderr(f: (s: string) => string): (o: Outcome) => Outcome {
  return (o) => ({ ...o, stderr: f(o.stderr) });
}

before(async () => {
  const ping = await anchor(['version', '--format', '{{.Server.Version}}']);
  if (ping.code !== 0) {
    throw new Error(
      `the anchor dockerd at ${anchorHost} is unreachable (run shared/bench/anchors.sh as root; make test does): ${ping.stderr.trim()}`,
    );
  }
  engine = await startEngine();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-compat-'));
  // Both engines run the same image: the anchors' busybox rootfs imported under our own name.
  anchorImages.add(image);
  await setup(['import', anchorTar, image]);
  anchorContainers.add(`${p}-up`);
  await setup(['run', '-d', '--name', `${p}-up`, image, 'sleep', '1000']);
  anchorContainers.add(`${p}-done`);
  const done = await both([
    'run',
    '--name',
    `${p}-done`,
    image,
    'sh',
    '-c',
    'echo err >&2; sleep 0.2; echo one; echo two; exit 2',
  ]);
  assert.equal(done.a.code, 2);
  assert.equal(done.b.code, 2);
  anchorContainers.add(`${p}-new`);
  await setup(['create', '--name', `${p}-new`, image, 'true']);
});

after(async () => {
  for (const name of anchorContainers) await anchor(['rm', '-f', name]);
  for (const img of anchorImages) await anchor(['rmi', '-f', img]);
  await engine?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('docker run', () => {
  test('--rm echo', async () => {
    await same(['run', '--rm', image, 'echo', 'hello', 'world']);
  });

  test('the exit code of the command', async () => {
    const o = await same(['run', '--rm', image, 'sh', '-c', 'exit 3']);
    assert.equal(o.code, 3);
  });

  test('a missing command: 127 and the runtime words', async () => {
    // The start error's wrapping names the shim (containerd's) and runc's error kind; berth
    // has no shim: the part that says what happened must match.
    const keyPart = onStderr((s) =>
      s.replace(/^(docker: Error response from daemon: ).*?(exec: .*?)(: unknown)?$/, '$1$2'),
    );
    const o = await same(['run', '--rm', image, 'nosuchcommand'], { shape: keyPart });
    assert.equal(o.code, 127);
    assert.match(o.stderr, /exec: "nosuchcommand": executable file not found in \$PATH$/);
  });

  test('an unknown image with --pull=never', async () => {
    const o = await same(['run', '--rm', '--pull=never', `${p}-nosuch:1`, 'true']);
    assert.equal(o.code, 125);
  });
});

describe('docker ps', () => {
  const mine = ['--filter', `name=${p}-`];
  test('table of running containers', async () => {
    await same(['ps', ...mine]);
  });
  test('-a', async () => {
    await same(['ps', '-a', ...mine]);
  });
  test('-q', async () => {
    const o = await same(['ps', '-q', ...mine]);
    assert.equal(o.stdout, '<id>\n');
  });
  test("--format '{{.Names}} {{.Status}}'", async () => {
    await same(['ps', '-a', ...mine, '--format', '{{.Names}} {{.Status}}']);
  });
  test('--filter status=exited', async () => {
    const o = await same([
      'ps',
      '-a',
      ...mine,
      '--filter',
      'status=exited',
      '--format',
      '{{.Names}}',
    ]);
    assert.equal(o.stdout, `${p}-done\n`);
  });
  test('-n 1', async () => {
    await same(['ps', '-n', '1', ...mine, '--format', '{{.Names}} {{.State}}']);
  });
  test("--no-trunc --format '{{.Command}}'", async () => {
    await same(['ps', '-a', ...mine, '--no-trunc', '--format', '{{.Command}}']);
  });
});

describe('docker inspect', () => {
  const formats = [
    '{{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.Restarting}} {{.State.OOMKilled}} {{.State.Dead}} {{.State.ExitCode}} {{json .State.Error}}',
    '{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .Args}} {{.Path}}',
    '{{json .Config.Env}}',
    '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}',
    '{{.HostConfig.LogConfig.Type}} {{.HostConfig.IpcMode}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.ShmSize}} {{json .HostConfig.PidsLimit}}',
    '{{.HostConfig.AutoRemove}} {{.HostConfig.Privileged}} {{.HostConfig.PublishAllPorts}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.ConsoleSize}} {{json .HostConfig.CapAdd}} {{json .HostConfig.Dns}} {{json .HostConfig.OomKillDisable}} {{.HostConfig.Memory}}',
    '{{.Name}} {{.RestartCount}} {{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.AttachStdout}} {{json .Config.WorkingDir}} {{json .Config.User}} {{.Config.Image}}',
  ];
  for (const [i, format] of formats.entries()) {
    test(`--format #${i}: ${format.slice(0, 60)}`, async () => {
      for (const c of ['up', 'done', 'new'])
        await same(['inspect', '--format', format, `${p}-${c}`]);
    });
  }
  test('HostConfig.NetworkMode of a docker run default', async () => {
    // dockerd 20.10 keeps the CLI's "default"; current dockerd (API >= 1.44) reports the
    // network it means, "bridge", as berth does.
    await same(['inspect', '--format', '{{.HostConfig.NetworkMode}}', `${p}-up`], {
      current: (o) => ({ ...o, stdout: o.stdout.replace(/^default$/m, 'bridge') }),
    });
  });
});

describe('docker logs', () => {
  test('all, --tail 1', async () => {
    const o = await same(['logs', `${p}-done`]);
    assert.deepEqual([o.stdout, o.stderr], ['one\ntwo\n', 'err']);
    await same(['logs', '--tail', '1', `${p}-done`]);
  });
  test('-t prints fixed nine-digit UTC timestamps', async () => {
    const o = await same(['logs', '-t', `${p}-done`]);
    assert.equal(o.stdout, '<ts> one\n<ts> two\n');
  });
  test('--since', async () => {
    await same(['logs', '--since', '2000-01-01T00:00:00Z', `${p}-done`]);
    const later = String(Math.floor(Date.now() / 1000) + 5);
    const o = await same(['logs', '--since', later, `${p}-done`]);
    assert.equal(o.stdout, '');
  });
});

// dockerd 20.10 capitalised these; current dockerd words them in lower case.
const lowerContainer = onStderr((s) =>
  s.replace(/daemon: Container (\S+) is not/, 'daemon: container $1 is not'),
);

describe('lifecycle', () => {
  test('stop of a stopped container prints its name', async () => {
    const o = await same(['stop', `${p}-done`]);
    assert.equal(o.stdout, `${p}-done\n`);
  });
  test('start of a running container', async () => {
    await same(['start', `${p}-up`]);
  });
  test('kill of a stopped container', async () => {
    await same(['kill', `${p}-done`], {
      current: onStderr((s) =>
        s.replace(
          /Cannot kill container: (\S+): Container (\S+) is not running/,
          'cannot kill container: $1: container $2 is not running',
        ),
      ),
    });
  });
  test('rm of a running container', async () => {
    await same(['rm', `${p}-up`], {
      // Current dockerd's words (since 23.0); 20.10 said "You cannot remove a running container".
      current: onStderr(
        () =>
          `Error response from daemon: cannot remove container "/${p}-up": container is running: stop the container before removing or force remove`,
      ),
    });
  });
  test('pause/unpause where they cannot', async () => {
    await same(['pause', `${p}-done`], { current: lowerContainer });
    await same(['unpause', `${p}-up`], { current: lowerContainer });
  });
  test('rename, and a rename onto a taken name', async () => {
    anchorContainers.add(`${p}-renamed`);
    await same(['rename', `${p}-new`, `${p}-renamed`]);
    await same(['inspect', '--format', '{{.Name}}', `${p}-renamed`]);
    await same(['rename', `${p}-renamed`, `${p}-up`]);
    await same(['rename', `${p}-renamed`, `${p}-new`]);
  });
  test('wait prints the exit code', async () => {
    const o = await same(['wait', `${p}-done`]);
    assert.equal(o.stdout, '2\n');
  });
  test('port of a container without ports', async () => {
    await same(['port', `${p}-up`]);
    await same(['port', `${p}-up`, '80']);
  });
  test('top prints ps headers and the command', async () => {
    // PIDs and times are the host's; the headers and the command must match.
    const shape = (o: Outcome): Outcome => ({
      ...o,
      stdout: o.stdout
        .split('\n')
        .map((l, i) => (i === 0 ? l : (l.split(/ {2,}/).at(-1) ?? '')))
        .join('\n'),
    });
    const o = await same(['top', `${p}-up`], { shape });
    assert.match(o.stdout, /^UID {3}PID {3}PPID {3}C {3}STIME {3}TTY {3}TIME {3}CMD\nsleep 1000\n/);
    await same(['top', `${p}-done`], { current: lowerContainer });
  });
});

describe('docker exec', () => {
  test('exit code; -e -w -u', async () => {
    const o = await same(['exec', `${p}-up`, 'sh', '-c', 'exit 5']);
    assert.equal(o.code, 5);
    await same([
      'exec',
      '-e',
      'FOO=bar',
      '-w',
      '/tmp',
      '-u',
      '65534',
      `${p}-up`,
      'sh',
      '-c',
      'echo $FOO $(pwd) $(id -u)',
    ]);
  });
  test('a missing command: 126 and the runtime words on stdout', async () => {
    const keyPart = (o: Outcome): Outcome => ({
      ...o,
      stdout: o.stdout.replace(/^.*?(exec: .*?)(: unknown)?\r?$/m, '$1'),
    });
    const o = await same(['exec', `${p}-up`, 'nosuchcommand'], { shape: keyPart });
    assert.equal(o.code, 126);
  });
  test('into a stopped container', async () => {
    await same(['exec', `${p}-done`, 'true'], { current: lowerContainer });
  });
});

describe('docker diff and cp', () => {
  test('diff after creating files', async () => {
    await setup([
      'exec',
      `${p}-up`,
      'sh',
      '-c',
      'echo hi > /tmp/newfile; mkdir /root/d; rm /bin/yes',
    ]);
    // Both list a directory before what is under it, but dockerd walks the layer in the order
    // the file system returns entries; the lines are compared sorted.
    const sorted = (o: Outcome): Outcome => ({
      ...o,
      stdout: o.stdout
        .split('\n')
        .filter(Boolean)
        .sort()
        .map((l) => `${l}\n`)
        .join(''),
    });
    const o = await same(['diff', `${p}-up`], { shape: sorted });
    assert.equal(o.stdout, 'A /root/d\nA /tmp/newfile\nC /bin\nC /root\nC /tmp\nD /bin/yes\n');
  });
  test('cp in and out: the printed line and the content', async () => {
    const src = path.join(tmp, 'in.txt');
    await fs.writeFile(src, 'copied in\n');
    await same(['cp', src, `${p}-up:/tmp/in.txt`]);
    await same(['exec', `${p}-up`, 'cat', '/tmp/in.txt']);
    const dest = path.join(tmp, 'out.txt');
    const a = await anchor(['cp', `${p}-up:/tmp/newfile`, dest]);
    const aContent = await fs.readFile(dest, 'utf8');
    await fs.rm(dest);
    const b = await engine.docker(['cp', `${p}-up:/tmp/newfile`, dest]);
    const bContent = await fs.readFile(dest, 'utf8');
    assert.deepEqual(outcome(b), outcome(a));
    assert.equal(bContent, aContent);
    assert.equal(bContent, 'hi\n');
  });
  test('cp of a missing path', async () => {
    await same(['cp', `${p}-up:/tmp/nosuch`, path.join(tmp, 'x')]);
  });
});

describe('not found', () => {
  for (const cmd of [
    ['inspect'],
    ['rm'],
    ['logs'],
    ['stop'],
    ['kill'],
    ['start'],
    ['exec'],
    ['port'],
  ]) {
    test(`${cmd[0]} of a missing container`, async () => {
      const extra = cmd[0] === 'exec' ? ['true'] : [];
      const o = await same([...cmd, `${p}-nosuch`, ...extra], {
        // 20.10 capitalised the kill route's prefix; current dockerd does not.
        current: onStderr((x) =>
          x.replace('daemon: Cannot kill container:', 'daemon: cannot kill container:'),
        ),
      });
      assert.notEqual(o.code, 0);
    });
  }
  test('image inspect and rmi of a missing image', async () => {
    await same(['image', 'inspect', `${p}-nosuch`], {
      // 20.10 wrapped the reference twice; current dockerd says it once.
      current: onStderr((s) => s.replace(/daemon: no such image: \S+: /, 'daemon: ')),
    });
    await same(['rmi', `${p}-nosuch`]);
  });
});

describe('images', () => {
  test("images --format '{{.Repository}}:{{.Tag}}'", async () => {
    await same(['images', '--format', '{{.Repository}}:{{.Tag}}', `${p}-img`]);
  });
  test('tag and rmi: Untagged lines', async () => {
    anchorImages.add(`${p}-tag:v1`);
    anchorImages.add(`${p}-tag:v2`);
    await same(['tag', image, `${p}-tag:v1`]);
    await same(['tag', image, `${p}-tag:v2`]);
    await same(['images', '--format', '{{.Repository}}:{{.Tag}}', `${p}-tag`]);
    const o = await same(['rmi', `${p}-tag:v1`, `${p}-tag:v2`]);
    assert.equal(o.stdout, `Untagged: ${p}-tag:v1\nUntagged: ${p}-tag:v2\n`);
    await same(['rmi', `${p}-tag:v1`]);
  });
  test('history of an imported image', async () => {
    const tar = path.join(tmp, 'export.tar');
    await must(anchor(['export', '-o', tar, `${p}-done`]), 'export');
    anchorImages.add(`${p}-imp:v1`);
    await setup(['import', tar, `${p}-imp:v1`]);
    await same(['history', '--format', '{{.CreatedBy}} {{.Comment}}', `${p}-imp:v1`]);
    await same(['history', `${p}-imp:v1`], { sizes: true });
    await same(['rmi', `${p}-imp:v1`], {
      shape: (o) => ({ ...o, stdout: o.stdout.replace(/^Deleted: sha256:<ID>\n/gm, 'Deleted\n') }),
    });
  });
});

describe('system', () => {
  test('version --format APIVersion', async () => {
    const o = await same(['version', '--format', '{{.Server.APIVersion}}'], {
      // The anchor is Docker 20.10; berth speaks API 1.47.
      current: (x) => ({ ...x, stdout: x.stdout.replace('1.41', '1.47') }),
    });
    assert.equal(o.stdout, '1.47\n');
  });
  test("info --format '{{.OSType}}'", async () => {
    await same(['info', '--format', '{{.OSType}} {{.CgroupVersion}}']);
  });
  test('system df header lines', async () => {
    const shape = (o: Outcome): Outcome => ({
      ...o,
      stdout: o.stdout
        .split('\n')
        .map((l) => l.split('   ').slice(0, 1).join('   '))
        .join('\n'),
    });
    await same(['system', 'df'], { shape });
  });
  test('system df: an image containers use is not reclaimable', async () => {
    // The anchor holds other images, so the numbers are berth's own: its bootstrapped
    // busybox (unused) and our import (used), of nearly the same size.
    const r = await must(
      engine.docker([
        'system',
        'df',
        '--format',
        '{{.Type}} {{.TotalCount}} {{.Active}} {{.Reclaimable}}',
      ]),
      'system df',
    );
    assert.match(r.stdout.split('\n')[0] ?? '', /^Images 2 1 \S+ \(50%\)$/);
  });
  test('events --since/--until for create/start/die/destroy', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    anchorContainers.add(`${p}-ev`);
    await setup(['run', '--rm', '--name', `${p}-ev`, image, 'true']);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const o = await same([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      `container=${p}-ev`,
      '--filter',
      'type=container',
      '--format',
      '{{.Type}} {{.Action}}',
    ]);
    assert.equal(
      o.stdout,
      'container create\ncontainer attach\ncontainer start\ncontainer die\ncontainer destroy\n',
    );
  });
});

describe('exec events', () => {
  test('exec_create/exec_start/exec_die, also of a command that is not found', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await setup(['exec', `${p}-up`, 'true']);
    await anchor(['exec', `${p}-up`, 'nosuchcommand']);
    await engine.docker(['exec', `${p}-up`, 'nosuchcommand']);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const o = await same([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      `container=${p}-up`,
      '--format',
      '{{.Action}}|',
    ]);
    assert.match(o.stdout, /^exec_create: true \|\nexec_start: true \|\nexec_die\|\n/);
  });
});

describe('the berth CLI prints what the docker CLI prints', () => {
  async function sameAsDocker(args: string[], options: NormalizeOptions = {}): Promise<void> {
    const d = outcome(await engine.docker(args), options);
    const b = outcome(await engine.berth(args), options);
    // Each CLI names itself in front of a run error ("docker: Error response ..."), as
    // the docker CLI does with its own program name.
    b.stderr = b.stderr.replace(/^berth: /, 'docker: ');
    assert.deepEqual(b, d, `${args.join(' ')}`);
  }
  test('ps', async () => {
    await sameAsDocker(['ps', '-a', '--filter', `name=${p}-`]);
    await sameAsDocker([
      'ps',
      '-a',
      '--filter',
      `name=${p}-`,
      '--no-trunc',
      '--format',
      '{{.Names}} {{.Command}}',
    ]);
  });
  test('images', async () => {
    await sameAsDocker(['images']);
    await sameAsDocker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  });
  test('inspect -f', async () => {
    await sameAsDocker([
      'inspect',
      '-f',
      '{{.State.Status}} {{json .Config.Cmd}} {{.HostConfig.ShmSize}}',
      `${p}-up`,
    ]);
    await sameAsDocker(['inspect', '-f', '{{.Name}}', `${p}-nosuch`]);
  });
  test('logs', async () => {
    await sameAsDocker(['logs', `${p}-done`]);
    await sameAsDocker(['logs', '--tail', '1', '-t', `${p}-done`]);
  });
  test('errors and exit codes', async () => {
    await sameAsDocker(['rm', `${p}-up`]);
    await sameAsDocker(['kill', `${p}-done`]);
    await sameAsDocker(['stop', `${p}-done`]);
    await sameAsDocker(['logs', `${p}-nosuch`]);
    await sameAsDocker(['exec', `${p}-up`, 'sh', '-c', 'exit 4']);
    await sameAsDocker(['run', '--rm', image, 'sh', '-c', 'echo out; exit 3']);
    await sameAsDocker(['run', '--rm', '--pull=never', `${p}-nosuch:1`, 'true']);
  });
  test('version header shape', async () => {
    const shape = (s: string): string =>
      normalize(s)
        .split('\n')
        .map((l) => l.replace(/:.*/, ':'))
        .join('\n');
    const d = await engine.docker(['version']);
    const b = await engine.berth(['version']);
    assert.equal(shape(b.stdout), shape(d.stdout));
  });
});
