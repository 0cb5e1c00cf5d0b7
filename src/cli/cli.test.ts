import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { parseArgs, UsageError } from './args.js';
import { parseTemplate, renderRows, tabwrite } from './format.js';
import { goG, humanDuration, humanSize, ellipsis, ramInBytes, ago } from './human.js';
import { buildCreate, CREATE_FLAGS, parsePublish } from './container-config.js';
import { startExitCode } from './run-errors.js';
import { runCli, selectHost } from './main.js';
import { containerRow } from './commands/ps.js';
import { imageRows } from './commands/images.js';
import { splitCpArg } from './commands/cp.js';

test('flags stop at the first positional for run; combined and repeated flags', () => {
  const specs = CREATE_FLAGS.concat([{ long: 'detach', short: 'd', kind: 'bool' }]);
  const p = parseArgs(
    [
      '-dit',
      '-e',
      'A=1',
      '--env=B=2',
      '-eC=3',
      '--name',
      'x',
      '-p',
      '80',
      'busybox',
      'ls',
      '-l',
      '--name',
      'y',
    ],
    specs,
    { interspersed: false },
  );
  assert.equal(p.flags.bool('detach'), true);
  assert.equal(p.flags.bool('interactive'), true);
  assert.equal(p.flags.bool('tty'), true);
  assert.deepEqual(p.flags.list('env'), ['A=1', 'B=2', 'C=3']);
  assert.equal(p.flags.string('name'), 'x');
  assert.deepEqual(p.args, ['busybox', 'ls', '-l', '--name', 'y']);
  const q = parseArgs(
    ['c1', '-f', 'c2', '--rm=false'],
    [
      { long: 'force', short: 'f', kind: 'bool' },
      { long: 'rm', kind: 'bool' },
    ],
  );
  assert.deepEqual(q.args, ['c1', 'c2']);
  assert.equal(q.flags.bool('force'), true);
  assert.equal(q.flags.bool('rm'), false);
  assert.throws(
    () => parseArgs(['--bogus'], specs),
    (e: Error) => e instanceof UsageError && e.message === 'unknown flag: --bogus',
  );
  assert.throws(() => parseArgs(['--name'], specs), /flag needs an argument: --name/);
  assert.deepEqual(parseArgs(['--', '-x'], specs).args, ['-x']);
});

test('create request from run flags', () => {
  const p = parseArgs(
    [
      '-i',
      '--rm',
      '-e',
      'X=1',
      '-l',
      'k=v',
      '-p',
      '127.0.0.1:8080:80/udp',
      '-v',
      '/h:/c:ro',
      '-v',
      '/anon',
      '--memory',
      '512m',
      '--cpus',
      '1.5',
      '--restart',
      'no',
      '-w',
      '/tmp',
      '-u',
      '1000',
      '--init',
      '--entrypoint',
      'sh',
      'busybox',
      '-c',
      'true',
    ],
    CREATE_FLAGS,
    { interspersed: false },
  );
  const plan = buildCreate(p.flags, p.args, { detach: false, env: {} });
  const r = plan.request;
  assert.equal(r.Image, 'busybox');
  assert.deepEqual(r.Cmd, ['-c', 'true']);
  assert.deepEqual(r.Entrypoint, ['sh']);
  assert.equal(r.OpenStdin, true);
  assert.equal(r.StdinOnce, true);
  assert.equal(r.AttachStdin, true);
  assert.deepEqual(r.Env, ['X=1']);
  assert.deepEqual(r.Labels, { k: 'v' });
  assert.deepEqual(r.ExposedPorts, { '80/udp': {} });
  assert.deepEqual(r.Volumes, { '/anon': {} });
  assert.equal(r.WorkingDir, '/tmp');
  assert.equal(r.User, '1000');
  const h = r.HostConfig ?? {};
  assert.deepEqual(h.PortBindings, { '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
  assert.deepEqual(h.Binds, ['/h:/c:ro']);
  assert.equal(h.AutoRemove, true);
  assert.equal(h.Memory, 512 * 1024 * 1024);
  assert.equal(h.NanoCpus, 1.5e9);
  assert.equal(h.Init, true);
  assert.deepEqual(parsePublish('8080:80'), { key: '80/tcp', hostIp: '', hostPort: '8080' });
  const bad = parseArgs(['--restart', 'always', '--rm', 'busybox'], CREATE_FLAGS, {
    interspersed: false,
  });
  assert.throws(
    () => buildCreate(bad.flags, bad.args, { detach: false }),
    /Conflicting options: --restart and --rm/,
  );
  const pull = parseArgs(['--pull', 'sometimes', 'busybox'], CREATE_FLAGS, { interspersed: false });
  assert.throws(() => buildCreate(pull.flags, pull.args, { detach: false }), UsageError);
});

test('human sizes and durations as docker prints them', () => {
  assert.equal(humanSize(1984000), '1.98MB');
  assert.equal(humanSize(4_260_000), '4.26MB');
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(999_999), '1e+03kB');
  assert.equal(humanSize(1984000, 4), '1.984MB');
  assert.equal(goG(0.0001234, 3), '0.000123');
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(3000), '3 seconds');
  assert.equal(humanDuration(90_000), 'About a minute');
  assert.equal(humanDuration(120_000), '2 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(5 * 3_600_000), '5 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
  assert.equal(ago(100, 103_000), '3 seconds ago');
  assert.equal(ellipsis('sh -c echo a long command', 20), 'sh -c echo a long c…');
  assert.equal(ramInBytes('1g'), 1024 ** 3);
});

test('templates: fields, json, index, range, if, pipes, functions', () => {
  const dot = {
    Name: 'web',
    State: { Status: 'running' },
    Labels: { a: 'b' },
    List: ['x', 'y'],
    Empty: '',
  };
  const t = (f: string): string => parseTemplate(f).execute(dot);
  assert.equal(t('{{.Name}} {{.State.Status}}'), 'web running');
  assert.equal(t('{{json .Labels}}'), '{"a":"b"}');
  assert.equal(t('{{index .Labels "a"}}'), 'b');
  assert.equal(t('{{range .List}}[{{.}}]{{end}}'), '[x][y]');
  assert.equal(t('{{if .Empty}}yes{{else}}no{{end}}'), 'no');
  assert.equal(t('{{.Name | upper}} {{lower "ABC"}}'), 'WEB abc');
  assert.equal(t('{{join .List ","}}'), 'x,y');
  assert.equal(t('{{.Labels}}'), 'map[a:b]');
  assert.equal(t('{{.Missing}}'), '<no value>');
  assert.equal(t('{{json .}}'), JSON.stringify(dot));
  assert.equal(t('a\\tb'), 'a\tb');
});

test('tabwriter and table formats align as docker does', () => {
  assert.equal(
    tabwrite('A\tBB\tC\nlonger-cell\tx\ty\n'),
    'A             BB        C\nlonger-cell   x         y\n',
  );
  const out = renderRows('table {{.ID}}\t{{.Name}}', [{ ID: 'abc', Name: 'n' }], {
    ID: 'CONTAINER ID',
    Name: 'NAMES',
  });
  assert.equal(out, 'CONTAINER ID   NAMES\nabc            n\n');
  assert.equal(renderRows('{{.ID}}', [{ ID: 'abc' }], {}), 'abc\n');
});

test('ps and images rows', () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 10);
  const row = containerRow(
    {
      Id: 'f63b519728887953c76833485a987921c83f66e1a2e62113c9b22a228887b9be',
      Names: ['/bt1'],
      Image: 'busybox',
      ImageID: 'sha256:5221216e02b3',
      Command: "sh -c 'echo log1; echo log2 >&2; sleep 100'",
      Created: now / 1000 - 3,
      State: 'running',
      Status: 'Up 3 seconds',
      Ports: [
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
      ],
      Labels: { a: 'b' },
    },
    true,
    now,
  );
  assert.equal(row.ID, 'f63b51972888');
  assert.equal(row.Command, '"sh -c \'echo log1; e…"');
  assert.equal(row.RunningFor, '3 seconds ago');
  assert.equal(row.Ports, '53/udp, 0.0.0.0:8080->80/tcp');
  assert.equal(row.Names, 'bt1');
  assert.equal(row.CreatedAt, '2026-01-01 00:00:07 +0000 UTC');
  const rows = imageRows(
    [
      {
        Id: 'sha256:5221216e02b301d8',
        ParentId: '',
        RepoTags: ['busybox:latest', 'localhost:5000/b:1'],
        RepoDigests: [],
        Created: now / 1000 - 120,
        Size: 1984000,
        SharedSize: -1,
        Labels: {},
        Containers: -1,
      },
    ],
    true,
    now,
  );
  assert.deepEqual(
    rows.map((r) => [r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size]),
    [
      ['busybox', 'latest', '5221216e02b3', '2 minutes ago', '1.98MB'],
      ['localhost:5000/b', '1', '5221216e02b3', '2 minutes ago', '1.98MB'],
    ],
  );
});

test('start exit codes, hosts, cp arguments', () => {
  assert.equal(startExitCode('exec: "x": executable file not found in $PATH: unknown'), 127);
  assert.equal(startExitCode('exec: "/etc": permission denied'), 126);
  assert.equal(startExitCode('something else'), 125);
  assert.equal(selectHost(undefined, { DOCKER_HOST: 'unix:///d.sock' }), 'unix:///d.sock');
  assert.equal(
    selectHost(undefined, { BERTH_HOST: 'unix:///b.sock', DOCKER_HOST: 'unix:///d.sock' }),
    'unix:///b.sock',
  );
  assert.equal(selectHost('unix:///h.sock', { BERTH_HOST: 'unix:///b.sock' }), 'unix:///h.sock');
  assert.equal(selectHost(undefined, {}), 'unix:///run/berth/berth.sock');
  assert.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  assert.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
});

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Captured> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (b: Buffer) => (stdout += b.toString()));
  err.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await runCli(
    argv,
    { stdin: Readable.from([Buffer.from(stdin)]), stdout: out, stderr: err },
    env,
  );
  return { code, stdout, stderr };
}

test('flag errors exit 125 with a help pointer, without a daemon', async () => {
  const r = await cli(['run', '--bogus', 'busybox'], { BERTH_HOST: 'unix:///nonexistent/x.sock' });
  assert.equal(r.code, 125);
  assert.equal(r.stderr, "berth: unknown flag: --bogus\nSee 'berth run --help'.\n");
  const n = await cli(['nosuchcommand'], {});
  assert.equal(n.code, 125);
  const down = await cli(['ps'], { BERTH_HOST: 'unix:///nonexistent/x.sock' });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /Cannot connect to the berth daemon at unix:\/\/\/nonexistent\/x.sock/);
});

const ANCHOR = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';

async function anchorEnv(): Promise<NodeJS.ProcessEnv> {
  try {
    await access(ANCHOR.replace(/^unix:\/\//, ''));
  } catch (cause) {
    throw new Error(
      `the anchor dockerd is not reachable at ${ANCHOR}: run 'source /work/shared/bench/anchors.sh' as root first`,
      { cause },
    );
  }
  return { BERTH_HOST: ANCHOR };
}

test('against dockerd: run exit codes, piped stdin, missing image and command', async () => {
  const env = await anchorEnv();
  const hi = await cli(
    ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
    env,
  );
  assert.deepEqual([hi.code, hi.stdout, hi.stderr], [3, 'out\n', 'err\n']);
  const piped = await cli(['run', '--rm', '-i', 'busybox', 'cat'], env, 'piped stdin\n');
  assert.deepEqual([piped.code, piped.stdout], [0, 'piped stdin\n']);
  // --pull=never: a pull would go to docker.io, which tests never reach.
  const missing = await cli(['run', '--rm', '--pull=never', 'berth-test-no-such-image'], env);
  assert.equal(missing.code, 125);
  assert.equal(
    missing.stderr,
    'berth: Error response from daemon: No such image: berth-test-no-such-image:latest\n',
  );
  const notFound = await cli(['run', '--rm', 'busybox', 'berth-no-such-cmd'], env);
  assert.equal(notFound.code, 127);
  assert.match(notFound.stderr, /^berth: Error response from daemon: .*executable file not found/);
});

test('against dockerd: detached lifecycle, ps, logs, exec, inspect, rm', async () => {
  const env = await anchorEnv();
  const name = `berth-cli-test-${process.pid}`;
  const started = await cli(
    ['run', '-d', '--name', name, '-l', 'suite=cli', 'busybox', 'sh', '-c', 'echo ready; sleep 60'],
    env,
  );
  assert.equal(started.code, 0, started.stderr);
  try {
    const id = started.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = await cli(
      ['ps', '--filter', `name=${name}`, '--format', '{{.ID}} {{.Names}} {{.Labels}} {{.State}}'],
      env,
    );
    assert.equal(ps.stdout, `${id.slice(0, 12)} ${name} suite=cli running\n`);
    const table = await cli(['ps', '--filter', `name=${name}`], env);
    assert.match(
      table.stdout,
      /^CONTAINER ID {3}IMAGE {5}COMMAND {18}CREATED +STATUS +PORTS {5}NAMES\n/,
    );
    const ex = await cli(['exec', name, 'sh', '-c', 'echo in; exit 4'], env);
    assert.deepEqual([ex.code, ex.stdout], [4, 'in\n']);
    const insp = await cli(
      ['inspect', '-f', '{{.State.Status}} {{index .Config.Labels "suite"}}', name],
      env,
    );
    assert.equal(insp.stdout, 'running cli\n');
    for (let i = 0; i < 50; i++) {
      const logs = await cli(['logs', name], env);
      if (logs.stdout === 'ready\n') break;
      await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(i, 49, 'logs never showed the line');
    }
    const stop = await cli(['stop', '-t', '0', name], env);
    assert.deepEqual([stop.code, stop.stdout], [0, `${name}\n`]);
  } finally {
    await cli(['rm', '-f', name], env);
  }
  const gone = await cli(['rm', name], env);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, `Error response from daemon: No such container: ${name}\n`);
});
