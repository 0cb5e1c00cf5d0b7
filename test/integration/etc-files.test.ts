import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// /etc/hosts, /etc/resolv.conf and /etc/hostname as berthd writes them, compared byte for byte
// with what the anchor dockerd writes for the same flags, under the network modes berth has
// without a bridge (none and host). Container ids are the only thing normalised.

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';
const sfx = randomBytes(3).toString('hex');
const image = `etcfiles-${sfx}-img:latest`;
const show =
  'for f in /etc/hosts /etc/resolv.conf /etc/hostname; do echo "--- $f"; cat $f; echo "<EOF>"; done; ' +
  'echo "--- hostname"; hostname';

let engine: Engine;

function anchor(args: string[]): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: anchorHost });
}

function normalize(text: string): string {
  return text.replace(/\b[0-9a-f]{12}\b/g, '<id>');
}

async function files(
  run: (args: string[]) => Promise<CommandResult>,
  flags: string[],
): Promise<string> {
  const r = await run(['run', '--rm', ...flags, image, 'sh', '-c', show]);
  assert.equal(r.code, 0, `docker run ${flags.join(' ')}: ${r.stderr}`);
  return normalize(r.stdout);
}

async function sameFiles(flags: string[]): Promise<string> {
  const want = await files(anchor, flags);
  const got = await files(engine.docker, flags);
  assert.equal(got, want, `docker run ${flags.join(' ')}`);
  return got;
}

const dnsFlags = [
  '--dns',
  '9.9.9.9',
  '--dns',
  '127.0.0.1',
  '--dns-search',
  'example.com',
  '--dns-search',
  'b.org',
  '--dns-option',
  'ndots:3',
  '--dns-option',
  'rotate',
];
const hostFlags = [
  '--add-host',
  'foo:1.2.3.4',
  '--add-host',
  'bar=5.6.7.8',
  '--add-host',
  'v6:::1',
];
const nameFlags = ['--hostname', 'myhost', '--domainname', 'example.org'];

before(async () => {
  const ping = await anchor(['version', '--format', '{{.Server.Version}}']);
  if (ping.code !== 0) {
    throw new Error(`the anchor dockerd at ${anchorHost} is unreachable: ${ping.stderr.trim()}`);
  }
  engine = await startEngine();
  for (const run of [anchor, engine.docker]) {
    const r = await run(['import', anchorTar, image]);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  await anchor(['rmi', '-f', image]);
  await engine?.stop();
});

describe('/etc files under --network none', () => {
  test('no flags', async () => {
    const out = await sameFiles(['--network', 'none']);
    assert.match(out, /--- \/etc\/hostname\n<id>\n/);
  });

  test('--add-host, --dns, --dns-search, --dns-option, --hostname, --domainname', async () => {
    const out = await sameFiles(['--network', 'none', ...hostFlags, ...dnsFlags, ...nameFlags]);
    assert.match(out, /1\.2\.3\.4\tfoo\n5\.6\.7\.8\tbar\n::1\tv6\n/);
    assert.match(out, /search example\.com b\.org\nnameserver 9\.9\.9\.9\n/);
  });

  test('each DNS flag alone keeps the rest from the host', async () => {
    await sameFiles(['--network', 'none', '--dns-option', 'rotate']);
    await sameFiles(['--network', 'none', '--dns-search', 'example.com']);
    await sameFiles(['--network', 'none', '--dns-search', '.']);
    await sameFiles(['--network', 'none', '--dns', '9.9.9.9']);
  });

  test('a dotted --hostname', async () => {
    await sameFiles(['--network', 'none', '--hostname', 'a.b', '--domainname', 'c.org']);
  });
});

describe('/etc files under --network host', () => {
  test("no flags: the host's files and name", async () => {
    await sameFiles(['--network', 'host']);
  });

  test('--hostname', async () => {
    await sameFiles(['--network', 'host', '--hostname', 'myhost']);
  });

  test('--add-host and the DNS flags build new files', async () => {
    await sameFiles(['--network', 'host', ...hostFlags, ...dnsFlags]);
    await sameFiles(['--network', 'host', '--add-host', 'foo:1.2.3.4', ...nameFlags]);
  });
});

describe('--add-host checks', () => {
  test("bad entries are refused at create with dockerd's words", async () => {
    for (const [entry, message] of [
      ['bad', 'bad format for add-host: "bad"'],
      ['foo:notanip', 'invalid IP address in add-host: "notanip"'],
    ] as const) {
      const r = await engine.api('POST', '/containers/create', {
        Image: image,
        Cmd: ['true'],
        HostConfig: { ExtraHosts: [entry], NetworkMode: 'none' },
      });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body, { message });
    }
    const ps = await engine.docker(['ps', '-aq']);
    assert.equal(ps.stdout.trim(), '', 'nothing was created');
  });

  test('host-gateway with no gateway known is refused', async () => {
    const r = await engine.docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--add-host',
      'gw:host-gateway',
      image,
      'true',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unable to derive the IP value for host-gateway/);
  });
});
