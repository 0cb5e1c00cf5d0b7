import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { berthBin, runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// `berth compose` end to end. The orchestration suite (networks, named volumes, healthcheck-
// gated start order, one-off run, scaling, idempotent up, build, secrets, down -v) runs against
// the anchor dockerd and against a test berthd; a second project exercises the lifecycle
// subcommands and docker-compose v1 against berthd.

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
let work: string;

before(async () => {
  work = await fs.mkdtemp(path.join(tmpdir(), 'berth-compose-it-'));
});
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

function compose(
  host: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return runCommand(
    process.execPath,
    [berthBin, 'compose', ...args],
    { BERTH_HOST: host, ...(options.env ?? {}) },
    {
      timeoutMs: options.timeoutMs ?? 120_000,
      ...(options.input !== undefined ? { input: options.input } : {}),
    },
  );
}

function docker(host: string, args: string[]): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: host });
}

async function ok(p: Promise<CommandResult>, what: string): Promise<CommandResult> {
  const r = await p;
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

interface Inspect {
  Id: string;
  Name: string;
  Config: { Labels: Record<string, string>; Env: string[] };
  State: { Running: boolean; Health?: { Status: string }; StartedAt: string };
  NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> };
}

async function inspect(host: string, name: string): Promise<Inspect> {
  const r = await ok(docker(host, ['inspect', name]), `inspect ${name}`);
  return (JSON.parse(r.stdout) as Inspect[])[0] as Inspect;
}

async function projectContainers(host: string, project: string): Promise<string[]> {
  const r = await ok(
    docker(host, [
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.Names}}',
    ]),
    'ps',
  );
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

/**
 * The orchestration suite: the same project, commands and checks against one engine. It runs
 * against the anchor dockerd and against a test berthd, so berth compose on berthd is shown
 * to give what it gives on Docker.
 */
function orchestration(
  label: string,
  host: () => string,
  engine: { up: () => Promise<void>; down: () => Promise<void> },
): void {
  describe(label, () => {
    before(engine.up);
    const project = `bc-${suffix}`;
    let dir: string;
    let file: string;
    const f = (): string[] => ['-f', file, '-p', project];

    before(async () => {
      const ping = await docker(host(), ['version', '--format', '{{.Server.Version}}']);
      assert.equal(ping.code, 0, `the anchor dockerd at ${host()} is unreachable: ${ping.stderr}`);
      dir = path.join(work, 'app');
      await fs.mkdir(dir, { recursive: true });
      file = path.join(dir, 'compose.yaml');
      await fs.writeFile(
        file,
        `
services:
  seed:
    image: busybox:latest
    command: sh -c 'echo seeded > /data/seed.txt'
    volumes: [data:/data]
    network_mode: none
  db:
    image: busybox:latest
    command: sh -c 'echo db starting; sleep 2; touch /tmp/ready; echo db ready; exec sleep 1000'
    stop_signal: SIGKILL
    volumes: [data:/data]
    networks:
      back:
        aliases: [database]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    depends_on:
      seed:
        condition: service_completed_successfully
  web:
    image: busybox:latest
    command: sh -c 'echo "web says $$MSG"; exec sleep 1000'
    stop_signal: SIGKILL
    environment:
      MSG: \${WEB_MSG:-hello}
    networks: [front, back]
    ports: ["127.0.0.1::8080"]
    depends_on:
      db:
        condition: service_healthy
  job:
    image: busybox:latest
    command: sh -c 'echo job done; exit 4'
    network_mode: none
    profiles: [jobs]
networks:
  front: {}
  back: {}
volumes:
  data: {}
`,
      );
    });

    after(async () => {
      await compose(host(), [
        ...f(),
        '--profile',
        'jobs',
        'down',
        '-v',
        '-t',
        '0',
        '--remove-orphans',
      ]);
      for (const n of await projectContainers(host(), project))
        await docker(host(), ['rm', '-f', n]);
      for (const n of [`${project}_front`, `${project}_back`, `${project}_default`])
        await docker(host(), ['network', 'rm', n]);
      await docker(host(), ['volume', 'rm', `${project}_data`]);
    });

    test('config prints the normalised model', async () => {
      const r = await ok(compose(host(), [...f(), 'config']), 'config');
      assert.match(r.stdout, new RegExp(`^name: ${project}\n`));
      assert.match(r.stdout, /condition: service_healthy\n\s+required: true/);
      assert.match(r.stdout, new RegExp(`name: ${project}_data`));
      const s = await ok(compose(host(), [...f(), 'config', '--services']), 'config --services');
      assert.equal(s.stdout, 'db\nseed\nweb\n');
      const v = await ok(compose(host(), [...f(), 'config', '--volumes']), 'config --volumes');
      assert.equal(v.stdout, 'data\n');
      const q = await ok(compose(host(), [...f(), 'config', '-q']), 'config -q');
      assert.equal(q.stdout, '');
    });

    test('up starts in dependency order, gated by healthchecks and completion', async () => {
      const r = await ok(compose(host(), [...f(), 'up', '-d']), 'up -d');
      // Plain progress (stderr is not a TTY), in compose's words.
      assert.match(r.stderr, new RegExp(` Network ${project}_back  Created`));
      assert.match(r.stderr, new RegExp(` Volume ${project}_data  Created`));
      assert.match(r.stderr, new RegExp(` Container ${project}-db-1  Healthy`));
      const lines = r.stderr.split('\n');
      const at = (s: string): number => lines.findIndex((l) => l.includes(s));
      assert.ok(at(`${project}-seed-1  Exited`) < at(`${project}-db-1  Started`), r.stderr);
      assert.ok(at(`${project}-db-1  Healthy`) < at(`${project}-web-1  Started`), r.stderr);
      assert.deepEqual(await projectContainers(host(), project), [
        `${project}-db-1`,
        `${project}-seed-1`,
        `${project}-web-1`,
      ]);
      const web = await inspect(host(), `${project}-web-1`);
      const labels = web.Config.Labels;
      assert.equal(labels['com.docker.compose.project'], project);
      assert.equal(labels['com.docker.compose.service'], 'web');
      assert.equal(labels['com.docker.compose.container-number'], '1');
      assert.equal(labels['com.docker.compose.oneoff'], 'False');
      assert.equal(labels['com.docker.compose.project.config_files'], file);
      assert.equal(labels['com.docker.compose.project.working_dir'], dir);
      assert.equal(labels['com.docker.compose.depends_on'], 'db:service_healthy:false');
      assert.match(labels['com.docker.compose.config-hash'] ?? '', /^[0-9a-f]{64}$/);
      assert.match(labels['com.docker.compose.image'] ?? '', /^sha256:/);
      assert.deepEqual(Object.keys(web.NetworkSettings.Networks).sort(), [
        `${project}_back`,
        `${project}_front`,
      ]);
      const net = await ok(
        docker(host(), ['network', 'inspect', `${project}_back`, '--format', '{{json .Labels}}']),
        'network inspect',
      );
      assert.deepEqual(
        Object.fromEntries(
          Object.entries(JSON.parse(net.stdout) as Record<string, string>).filter(
            ([k]) => k !== 'com.docker.compose.version',
          ),
        ),
        { 'com.docker.compose.network': 'back', 'com.docker.compose.project': project },
      );
      const vol = await ok(
        docker(host(), [
          'volume',
          'inspect',
          `${project}_data`,
          '--format',
          '{{index .Labels "com.docker.compose.volume"}}',
        ]),
        'volume inspect',
      );
      assert.equal(vol.stdout.trim(), 'data');
      // Service names and aliases resolve on the project's networks.
      await ok(
        compose(host(), [...f(), 'exec', '-T', 'web', 'ping', '-c1', '-W2', 'db']),
        'ping db',
      );
      await ok(
        compose(host(), [...f(), 'exec', '-T', 'web', 'ping', '-c1', '-W2', 'database']),
        'ping alias',
      );
      const seeded = await ok(
        compose(host(), [...f(), 'exec', '-T', 'db', 'cat', '/data/seed.txt']),
        'exec cat',
      );
      assert.equal(seeded.stdout, 'seeded\n');
    });

    test('ps, logs and port show the project', async () => {
      const ps = await ok(compose(host(), [...f(), 'ps']), 'ps');
      assert.match(ps.stdout, /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS\n/);
      assert.match(ps.stdout, new RegExp(`${project}-db-1 .*\\(healthy\\)`));
      assert.doesNotMatch(ps.stdout, /seed-1/, 'exited containers only with -a');
      const all = await ok(compose(host(), [...f(), 'ps', '-a', '--format', 'json']), 'ps -a json');
      const rows = all.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { Service: string; State: string });
      assert.deepEqual(rows.map((x) => `${x.Service}:${x.State}`).sort(), [
        'db:running',
        'seed:exited',
        'web:running',
      ]);
      const services = await ok(compose(host(), [...f(), 'ps', '--services']), 'ps --services');
      assert.equal(services.stdout, 'db\nweb\n');
      const q = await ok(compose(host(), [...f(), 'ps', '-q', 'web']), 'ps -q');
      assert.match(q.stdout, /^[0-9a-f]{12}\n$/);
      const logs = await ok(compose(host(), [...f(), 'logs', '--no-color', 'db', 'web']), 'logs');
      assert.match(logs.stdout, /^db-1 {3}\| db starting$/m);
      assert.match(logs.stdout, /^web-1 {2}\| web says hello$/m);
      const tail = await ok(
        compose(host(), [...f(), 'logs', '--no-log-prefix', '--tail', '1', 'db']),
        'logs --tail',
      );
      assert.equal(tail.stdout, 'db ready\n');
      const port = await ok(compose(host(), [...f(), 'port', 'web', '8080']), 'port');
      assert.match(port.stdout, /^127\.0\.0\.1:\d+\n$/);
      const ls = await ok(compose(host(), ['ls', '--filter', `name=${project}`]), 'ls');
      assert.match(ls.stdout, new RegExp(`${project}\\s+exited\\(1\\), running\\(2\\)`));
    });

    test('up again is idempotent; a changed service alone is recreated', async () => {
      const before = await inspect(host(), `${project}-db-1`);
      const webBefore = await inspect(host(), `${project}-web-1`);
      const again = await ok(compose(host(), [...f(), 'up', '-d']), 'up again');
      assert.match(again.stderr, new RegExp(`Container ${project}-web-1  Running`));
      assert.doesNotMatch(again.stderr, /Recreate|Creating/);
      assert.equal((await inspect(host(), `${project}-web-1`)).Id, webBefore.Id);
      const changed = await ok(
        compose(host(), [...f(), 'up', '-d'], { env: { WEB_MSG: 'changed' } }),
        'up changed',
      );
      assert.match(changed.stderr, new RegExp(`Container ${project}-web-1  Recreated`));
      const db = await inspect(host(), `${project}-db-1`);
      assert.equal(db.Id, before.Id, 'db kept');
      assert.equal(db.State.StartedAt, before.State.StartedAt, 'db not restarted');
      const web = await inspect(host(), `${project}-web-1`);
      assert.notEqual(web.Id, webBefore.Id);
      assert.ok(web.Config.Env.includes('MSG=changed'));
      const forced = await ok(
        compose(host(), [...f(), 'up', '-d', '--force-recreate', '--no-deps', 'web'], {
          env: { WEB_MSG: 'changed' },
        }),
        'force',
      );
      assert.match(forced.stderr, /web-1 {2}Recreated/);
      assert.doesNotMatch(forced.stderr, /db-1/);
    });

    test('--scale adds and removes replicas', async () => {
      await ok(
        compose(host(), [...f(), 'up', '-d', '--scale', 'web=2'], {
          env: { WEB_MSG: 'changed' },
        }),
        'scale 2',
      );
      assert.ok((await projectContainers(host(), project)).includes(`${project}-web-2`));
      const w2 = await inspect(host(), `${project}-web-2`);
      assert.equal(w2.Config.Labels['com.docker.compose.container-number'], '2');
      await ok(
        compose(host(), [...f(), 'up', '-d', '--scale', 'web=1'], {
          env: { WEB_MSG: 'changed' },
        }),
        'scale 1',
      );
      assert.ok(!(await projectContainers(host(), project)).includes(`${project}-web-2`));
    });

    test('run makes a one-off container with the exit code, removed with --rm', async () => {
      const r = await ok(
        compose(host(), [
          ...f(),
          'run',
          '--rm',
          '-T',
          'web',
          'sh',
          '-c',
          'echo one-off $MSG; cat /etc/hostname >/dev/null',
        ]),
        'run',
      );
      assert.match(r.stdout, /one-off hello/);
      const code = await compose(host(), [
        ...f(),
        'run',
        '--rm',
        '-T',
        '--no-deps',
        '-e',
        'X=7',
        'web',
        'sh',
        '-c',
        'exit $X',
      ]);
      assert.equal(code.code, 7, code.stderr);
      const kept = await ok(
        compose(host(), [...f(), 'run', '-T', '--no-deps', 'web', 'true']),
        'run kept',
      );
      assert.equal(kept.code, 0);
      const oneoffs = await ok(
        docker(host(), [
          'ps',
          '-a',
          '--filter',
          `label=com.docker.compose.project=${project}`,
          '--filter',
          'label=com.docker.compose.oneoff=True',
          '--format',
          '{{.Names}}',
        ]),
        'ps oneoff',
      );
      const names = oneoffs.stdout.split('\n').filter((l) => l !== '');
      assert.equal(names.length, 1, oneoffs.stdout);
      assert.match(names[0] as string, new RegExp(`^${project}-web-run-[0-9a-f]{12}$`));
      await docker(host(), ['rm', '-f', names[0] as string]);
    });

    test('up attached stops with --abort-on-container-exit and returns --exit-code-from', async () => {
      const r = await compose(host(), [
        ...f(),
        '--profile',
        'jobs',
        'up',
        '--abort-on-container-exit',
        '--exit-code-from',
        'job',
        'job',
      ]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stdout, /^job-1 {2}\| job done$/m);
      assert.match(r.stdout, /job-1 exited with code 4/);
    });

    test('named volumes survive down and up; down -v removes everything', async () => {
      await ok(
        compose(host(), [...f(), 'exec', '-T', 'db', 'sh', '-c', 'echo kept > /data/kept.txt']),
        'write',
      );
      const d = await ok(compose(host(), [...f(), 'down', '-t', '0']), 'down');
      assert.match(d.stderr, new RegExp(`Network ${project}_front  Removed`));
      assert.deepEqual(await projectContainers(host(), project), []);
      await ok(compose(host(), [...f(), 'up', '-d', 'db']), 'up db');
      const kept = await ok(
        compose(host(), [...f(), 'exec', '-T', 'db', 'cat', '/data/kept.txt']),
        'read',
      );
      assert.equal(kept.stdout, 'kept\n');
      const dv = await ok(compose(host(), [...f(), 'down', '-v', '-t', '0']), 'down -v');
      assert.match(dv.stderr, new RegExp(`Volume ${project}_data  Removed`));
      assert.deepEqual(await projectContainers(host(), project), []);
      assert.notEqual((await docker(host(), ['volume', 'inspect', `${project}_data`])).code, 0);
      assert.notEqual((await docker(host(), ['network', 'inspect', `${project}_back`])).code, 0);
    });

    test('up --build builds with POST /build; secrets and configs reach the container', async () => {
      const bdir = path.join(work, 'build');
      await fs.mkdir(path.join(bdir, 'ctx'), { recursive: true });
      await fs.writeFile(
        path.join(bdir, 'ctx/Dockerfile'),
        'FROM busybox:latest\nARG GREETING=none\nRUN echo "built $GREETING" > /built\n',
      );
      await fs.writeFile(path.join(bdir, 'ctx/.dockerignore'), 'secret.txt\n');
      await fs.writeFile(path.join(bdir, 'ctx/secret.txt'), 'not sent\n');
      await fs.writeFile(path.join(bdir, 'pw.txt'), 'from-file\n');
      const bfile = path.join(bdir, 'compose.yaml');
      await fs.writeFile(
        bfile,
        `
services:
  app:
    build:
      context: ./ctx
      args: {GREETING: hey}
    command: sh -c 'cat /built /run/secrets/pw /run/secrets/token; echo; cat /etc/app.conf; echo; ls /secret.txt 2>&1; stat -c %a /run/secrets/token'
    network_mode: none
    secrets:
      - pw
      - source: token
        mode: 0400
    configs:
      - source: conf
        target: /etc/app.conf
secrets:
  pw: {file: ./pw.txt}
  token: {environment: TOKEN}
configs:
  conf:
    content: "key=\${TOKEN}"
`,
      );
      const bp = `${project}-b`;
      try {
        const r = await ok(
          compose(host(), ['-f', bfile, '-p', bp, 'up', '--build', '--no-color'], {
            env: { TOKEN: 'tok' },
          }),
          'up --build',
        );
        assert.match(r.stderr, new RegExp(`Image ${bp}-app  Built`));
        const out = r.stdout
          .split('\n')
          .filter((l) => /^app-1 +\| /.test(l))
          .map((l) => l.replace(/^app-1 +\| /, ''));
        assert.deepEqual(out, [
          'built hey',
          'from-file',
          'tok',
          'key=tok',
          'ls: /secret.txt: No such file or directory',
          '400',
        ]);
        const images = await ok(compose(host(), ['-f', bfile, '-p', bp, 'images']), 'images');
        assert.match(images.stdout, new RegExp(`${bp}-app-1\\s+${bp}-app\\s+latest`));
      } finally {
        const d = await compose(host(), ['-f', bfile, '-p', bp, 'down', '--rmi', 'local'], {
          env: { TOKEN: 'tok' },
        });
        assert.equal(d.code, 0, d.stderr);
      }
      assert.notEqual(
        (await docker(host(), ['image', 'inspect', `${bp}-app`])).code,
        0,
        'down --rmi local removed the built image',
      );
    });

    test("docker-compose v1 and berth compose see each other's projects by their labels", async () => {
      const v1 = await runCommand('docker-compose', ['version', '--short'], {}).catch(
        () => undefined,
      );
      // scripts/setup.sh installs it: its absence is a broken set-up, not a reason to pass.
      assert.equal(
        v1?.code,
        0,
        'docker-compose (v1) is not installed (scripts/setup.sh installs it)',
      );
      const vp = `${project}-v1`;
      const vfile = path.join(work, 'v1.yaml');
      await fs.writeFile(
        vfile,
        'services:\n  one:\n    image: busybox:latest\n    command: sleep 1000\n    network_mode: none\n    stop_signal: SIGKILL\n',
      );
      const v1env = { DOCKER_HOST: host() };
      try {
        await ok(compose(host(), ['-f', vfile, '-p', vp, 'up', '-d']), 'berth up');
        const ps = await ok(
          runCommand(
            'docker-compose',
            ['-f', vfile, '-p', vp, 'ps', '--services', '--filter', 'status=running'],
            v1env,
          ),
          'v1 ps',
        );
        assert.equal(ps.stdout.trim(), 'one');
        await ok(
          runCommand(
            'docker-compose',
            ['-f', vfile, '-p', vp, 'up', '-d', '--scale', 'one=2', '--no-recreate'],
            v1env,
          ),
          'v1 scale',
        );
        const ours = await ok(
          compose(host(), ['-f', vfile, '-p', vp, 'ps', '--format', '{{.Name}}']),
          'berth ps',
        );
        assert.deepEqual(ours.stdout.trim().split('\n').sort(), [`${vp}-one-1`, `${vp}_one_2`]);
      } finally {
        await ok(compose(host(), ['-f', vfile, '-p', vp, 'down', '-t', '0']), 'berth down');
      }
      assert.deepEqual(await projectContainers(host(), vp), []);
    });

    test('docker-compose v1 brings the networked application up and down', async () => {
      const v1 = await runCommand('docker-compose', ['version', '--short'], {}).catch(
        () => undefined,
      );
      // scripts/setup.sh installs it: its absence is a broken set-up, not a reason to pass.
      assert.equal(
        v1?.code,
        0,
        'docker-compose (v1) is not installed (scripts/setup.sh installs it)',
      );
      // The same file as berth compose's: two networks, a named volume, gated start order.
      const vp = `${project}-v1net`;
      const env = { DOCKER_HOST: host() };
      const v1c = (args: string[]): Promise<CommandResult> =>
        runCommand('docker-compose', ['-f', file, '-p', vp, ...args], env, {
          timeoutMs: 180_000,
        });
      try {
        await ok(v1c(['up', '-d']), 'v1 up');
        await ok(v1c(['exec', '-T', 'web', 'ping', '-c1', '-W2', 'database']), 'web reaches db');
        const seed = await ok(v1c(['exec', '-T', 'db', 'cat', '/data/seed.txt']), 'seeded');
        assert.equal(seed.stdout.trim(), 'seeded');
        const web = await inspect(host(), `${vp}_web_1`);
        assert.deepEqual(Object.keys(web.NetworkSettings.Networks).sort(), [
          `${vp}_back`,
          `${vp}_front`,
        ]);
      } finally {
        await ok(v1c(['down', '-v', '-t', '0']), 'v1 down');
      }
      assert.deepEqual(await projectContainers(host(), vp), []);
      assert.notEqual((await docker(host(), ['volume', 'inspect', `${vp}_data`])).code, 0);
      assert.notEqual((await docker(host(), ['network', 'inspect', `${vp}_back`])).code, 0);
    });

    test('bad input fails clearly before anything is created', async () => {
      const bad = path.join(dir, 'bad.yaml');
      await fs.writeFile(
        bad,
        'services:\n  a:\n    image: busybox\n    networks: [outside]\nnetworks:\n  outside:\n    external: true\n    name: no-such-net-' +
          suffix +
          '\n',
      );
      const r = await compose(host(), ['-f', bad, '-p', project, 'up', '-d']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`network no-such-net-${suffix} declared as external, but could not be found`),
      );
      const cyc = path.join(dir, 'cycle.yaml');
      await fs.writeFile(
        cyc,
        'services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [a]}\n',
      );
      const c = await compose(host(), ['-f', cyc, '-p', project, 'up', '-d']);
      assert.equal(c.code, 1);
      assert.match(c.stderr, /dependency cycle detected: a -> b -> a/);
      assert.deepEqual(await projectContainers(host(), project), []);
    });
    after(engine.down);
  });
}

let berthd: Engine | undefined;
orchestration('against the anchor dockerd', () => anchorHost, {
  up: async () => undefined,
  down: async () => undefined,
});
orchestration('against berthd', () => berthd?.host ?? '', {
  up: async () => {
    berthd = await startEngine();
  },
  down: async () => {
    await berthd?.stop();
  },
});

describe('against berthd (containers, labels, network_mode none/host)', () => {
  let engine: Engine;
  const project = `bcb-${suffix}`;
  let file: string;
  const f = (): string[] => ['-f', file, '-p', project];

  before(async () => {
    engine = await startEngine();
    file = path.join(work, 'berthd.yaml');
    await fs.writeFile(
      file,
      `
services:
  db:
    image: busybox
    command: sh -c 'echo db up; touch /tmp/ready; exec sleep 1000'
    network_mode: none
    stop_signal: SIGKILL
    labels: [tier=data]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 20
  app:
    image: busybox
    command: sh -c 'echo app \${GREETING:-hi}; exec sleep 1000'
    network_mode: host
    stop_signal: SIGKILL
    depends_on:
      db:
        condition: service_healthy
`,
    );
  });
  after(async () => {
    await engine?.stop();
  });

  test('up, ps, logs, exec, run, idempotent up and down', async () => {
    const up = await ok(
      compose(engine.host, [...f(), 'up', '-d', '--wait', '--wait-timeout', '60']),
      'up --wait',
    );
    assert.match(up.stderr, new RegExp(`Container ${project}-db-1  Healthy`));
    assert.match(up.stderr, new RegExp(`Container ${project}-app-1  Started`));
    const ids = await ok(
      engine.docker([
        'ps',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--format',
        '{{.Names}} {{.Label "com.docker.compose.service"}} {{.Label "tier"}}',
      ]),
      'docker ps',
    );
    assert.deepEqual(ids.stdout.trim().split('\n').sort(), [
      `${project}-app-1 app `,
      `${project}-db-1 db data`,
    ]);
    const ps = await ok(
      compose(engine.host, [...f(), 'ps', '--format', '{{.Service}} {{.State}}']),
      'ps',
    );
    assert.deepEqual(ps.stdout.trim().split('\n').sort(), ['app running', 'db running']);
    const logs = await ok(compose(engine.host, [...f(), 'logs', '--no-color']), 'logs');
    assert.match(logs.stdout, /^app-1 {2}\| app hi$/m);
    assert.match(logs.stdout, /^db-1 {3}\| db up$/m);
    const ex = await ok(
      compose(engine.host, [...f(), 'exec', '-T', 'db', 'ls', '/tmp/ready']),
      'exec',
    );
    assert.equal(ex.stdout, '/tmp/ready\n');
    const run = await compose(engine.host, [
      ...f(),
      'run',
      '--rm',
      '-T',
      '--no-deps',
      'db',
      'sh',
      '-c',
      'echo once; exit 3',
    ]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /once/);
    const again = await ok(compose(engine.host, [...f(), 'up', '-d']), 'up again');
    assert.doesNotMatch(again.stderr, /Recreate|Creating/);
    const changed = await ok(
      compose(engine.host, [...f(), 'up', '-d'], { env: { GREETING: 'hello' } }),
      'up changed',
    );
    assert.match(changed.stderr, new RegExp(`${project}-app-1  Recreated`));
    assert.doesNotMatch(changed.stderr, /db-1 {2}Recreate/);
    await ok(compose(engine.host, [...f(), 'stop']), 'stop');
    const stopped = await ok(
      compose(engine.host, [...f(), 'ps', '-a', '--format', '{{.Service}} {{.State}}']),
      'ps -a',
    );
    assert.deepEqual(stopped.stdout.trim().split('\n').sort(), ['app exited', 'db exited']);
    await ok(compose(engine.host, [...f(), 'start']), 'start');
    const down = await ok(compose(engine.host, [...f(), 'down']), 'down');
    assert.match(down.stderr, new RegExp(`Container ${project}-db-1  Removed`));
    const left = await ok(
      engine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]),
      'ps left',
    );
    assert.equal(left.stdout, '');
  });

  test('docker-compose v1 brings the same project up and down on berthd', async () => {
    const v1 = await runCommand('docker-compose', ['version', '--short'], {}).catch(
      () => undefined,
    );
    // scripts/setup.sh installs it: its absence is a broken set-up, not a reason to pass.
    assert.equal(
      v1?.code,
      0,
      'docker-compose (v1) is not installed (scripts/setup.sh installs it)',
    );
    const vp = `${project}-v1`;
    const env = { DOCKER_HOST: engine.host };
    await ok(
      runCommand('docker-compose', ['-f', file, '-p', vp, 'up', '-d'], env, { timeoutMs: 120_000 }),
      'v1 up',
    );
    const ours = await ok(
      compose(engine.host, ['-f', file, '-p', vp, 'ps', '--format', '{{.Name}} {{.State}}']),
      'berth ps',
    );
    assert.deepEqual(ours.stdout.trim().split('\n').sort(), [
      `${vp}_app_1 running`,
      `${vp}_db_1 running`,
    ]);
    await ok(
      runCommand('docker-compose', ['-f', file, '-p', vp, 'down', '-t', '0'], env, {
        timeoutMs: 120_000,
      }),
      'v1 down',
    );
    const left = await ok(
      engine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${vp}`]),
      'ps left',
    );
    assert.equal(left.stdout, '');
  });

  test('create, start, top, pause, unpause, restart, cp, kill, wait, scale and rm', async () => {
    const lp = `${project}-life`;
    const lfile = path.join(work, 'life.yaml');
    await fs.writeFile(
      lfile,
      'services:\n  box:\n    image: busybox\n    command: sleep 1000\n    network_mode: none\n    stop_signal: SIGKILL\n',
    );
    const g = ['-f', lfile, '-p', lp];
    const states = async (): Promise<string> =>
      (
        await ok(compose(engine.host, [...g, 'ps', '-a', '--format', '{{.Name}} {{.State}}']), 'ps')
      ).stdout.trim();
    try {
      await ok(compose(engine.host, [...g, 'create']), 'create');
      assert.equal(await states(), `${lp}-box-1 created`);
      await ok(compose(engine.host, [...g, 'start']), 'start');
      assert.equal(await states(), `${lp}-box-1 running`);
      const top = await ok(compose(engine.host, [...g, 'top']), 'top');
      assert.match(top.stdout, new RegExp(`^${lp}-box-1\\n`));
      assert.match(top.stdout, /sleep 1000/);
      await ok(compose(engine.host, [...g, 'pause']), 'pause');
      assert.equal(await states(), `${lp}-box-1 paused`);
      await ok(compose(engine.host, [...g, 'unpause']), 'unpause');
      assert.equal(await states(), `${lp}-box-1 running`);
      await ok(compose(engine.host, [...g, 'restart', '-t', '0']), 'restart');
      assert.equal(await states(), `${lp}-box-1 running`);
      const src = path.join(work, 'cp-in.txt');
      await fs.writeFile(src, 'copied\n');
      await ok(compose(engine.host, [...g, 'cp', src, 'box:/tmp/in.txt']), 'cp in');
      const back = path.join(work, 'cp-out.txt');
      await ok(compose(engine.host, [...g, 'cp', 'box:/tmp/in.txt', back]), 'cp out');
      assert.equal(await fs.readFile(back, 'utf8'), 'copied\n');
      await ok(compose(engine.host, [...g, 'scale', 'box=2']), 'scale');
      assert.equal(await states(), `${lp}-box-1 running\n${lp}-box-2 running`);
      const waiting = compose(engine.host, [...g, 'wait', 'box']);
      await ok(compose(engine.host, [...g, 'kill']), 'kill');
      const w = await waiting;
      assert.equal(w.code, 137, w.stderr);
      assert.equal(await states(), `${lp}-box-1 exited\n${lp}-box-2 exited`);
      const rm = await ok(compose(engine.host, [...g, 'rm', '-f']), 'rm');
      assert.match(rm.stderr, new RegExp(`Container ${lp}-box-2  Removed`));
      assert.equal(await states(), '');
    } finally {
      await compose(engine.host, [...g, 'down', '-t', '0']);
    }
  });
});
