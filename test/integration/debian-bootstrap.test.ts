import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEngine, type Engine } from './harness.js';

// `berth image bootstrap debian:bookworm-slim`: a Debian base image made by berthd with
// mmdebstrap from the mirror in the host's apt sources (the only traffic: Debian's packages),
// then run. The build takes a minute or two.

const image = 'debian:bookworm-slim';
let engine: Engine;
let id = '';

before(async () => {
  engine = await startEngine();
});

after(async () => {
  await engine?.stop();
});

async function debianImages(): Promise<string> {
  const r = await engine.berth(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('debian'))
    .join('\n');
}

describe('berth image bootstrap debian', () => {
  test('bad names are refused at once and tag nothing', async () => {
    const suite = await engine.berth(['image', 'bootstrap', 'debian:nosuchsuite']);
    assert.equal(suite.code, 1);
    assert.match(suite.stderr, /unknown Debian suite "nosuchsuite"/);
    const other = await engine.berth(['image', 'bootstrap', 'ubuntu:22.04']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /no built-in recipe for ubuntu:22\.04/);
    assert.equal(await debianImages(), '');
  });

  test('bookworm-slim is built with progress and tagged', async () => {
    const r = await engine.berth(['image', 'bootstrap', image], { timeoutMs: 600_000 });
    assert.equal(r.code, 0, `${r.stderr}\n${engine.logs()}`);
    assert.match(r.stderr, /^I: bootstrapping debian:bookworm-slim from \S+ with mmdebstrap$/m);
    assert.match(r.stderr, /^I: (downloading|installing|extracting)/m, 'mmdebstrap progress');
    const m = /^debian:bookworm-slim (sha256:[0-9a-f]{64})\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    id = m[1] ?? '';
    assert.equal(await debianImages(), 'debian:bookworm-slim');
  });

  test("the image config is Docker Hub's: Cmd bash, PATH", async () => {
    const r = await engine.docker(['image', 'inspect', '--format', '{{json .Config}}', image]);
    assert.equal(r.code, 0, r.stderr);
    const config = JSON.parse(r.stdout) as { Cmd: string[]; Env: string[] };
    assert.deepEqual(config.Cmd, ['bash']);
    assert.deepEqual(config.Env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    const layers = await engine.docker([
      'image',
      'inspect',
      '--format',
      '{{len .RootFS.Layers}}',
      image,
    ]);
    assert.equal(layers.stdout.trim(), '1');
  });

  test('a container runs: debian_version and dpkg -l', async () => {
    const v = await engine.berth(['run', '--rm', image, 'cat', '/etc/debian_version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^12\.\d+\n$/);
    const d = await engine.berth(['run', '--rm', image, 'sh', '-c', 'dpkg -l | head']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^Desired=Unknown\/Install\/Remove\/Purge\/Hold/);
    assert.match(d.stdout, /^ii {2}\S+/m);
    const bash = await engine.berth(['run', '--rm', image]);
    assert.equal(bash.code, 0, 'the default command, bash, runs (and ends on no input)');
  });

  test('shaped as a slim Debian image', async () => {
    const script = [
      'test -L /bin && readlink /bin',
      'ls /usr/share/man 2>/dev/null | wc -l',
      'ls /usr/share/doc/bash',
      'cat /etc/dpkg/dpkg.cfg.d/docker | grep -c path-exclude',
      '/usr/sbin/policy-rc.d; echo policy=$?',
      'dpkg -s usrmerge >/dev/null 2>&1 && echo usrmerge || echo no-usrmerge',
      'ls /var/lib/apt/lists | grep -vc "^lock$\\|^partial$" || true',
      'grep -h "^Suites:" /etc/apt/sources.list.d/debian.sources',
      'test -e /etc/apt/sources.list && echo list || echo no-list',
      'ls /var/cache/apt/*.bin 2>/dev/null | wc -l',
    ].join('; ');
    const r = await engine.berth(['run', '--rm', image, 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'usr/bin', 'merged /usr as debootstrap makes it');
    assert.equal(lines[1], '0', 'no manuals');
    assert.equal(lines[2], 'copyright', 'documentation only as copyright files');
    assert.equal(lines[3], '7');
    assert.equal(lines[4], 'policy=101');
    assert.equal(lines[5], 'no-usrmerge');
    assert.equal(lines[6], '0', 'no package lists in the image');
    assert.equal(lines[7], 'Suites: bookworm bookworm-updates');
    assert.match(r.stdout, /^Suites: bookworm-security$/m);
    assert.equal(lines[9], 'no-list');
    assert.equal(lines[10], '0', 'no apt caches in the image');
  });

  test('a second bootstrap gives the image already there', async () => {
    const r = await engine.berth(['image', 'bootstrap', image]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `debian:bookworm-slim ${id}\n`);
    assert.equal(r.stderr, '', 'nothing was built');
  });
});
