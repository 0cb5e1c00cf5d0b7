import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';
import { call, startRegistry, type Registry } from './registry-harness.js';

// berth pushes to berth's own registry and pulls back the same digests (issue #7): a one-layer
// image and a three-layer one made by commit, over loopback only; then a second berthd, which
// has never seen the image, pulls it by tag and by digest and runs it.

let engine: Engine;
let other: Engine;
let registry: Registry;

function ok(r: CommandResult, what: string): CommandResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

async function inspect(e: Engine, ref: string, format: string): Promise<string> {
  return ok(
    await e.berth(['image', 'inspect', '--format', format, ref]),
    `inspect ${ref}`,
  ).stdout.trim();
}

before(async () => {
  registry = await startRegistry();
  engine = await startEngine();
  other = await startEngine({ bootstrap: false });
});

after(async () => {
  await other?.stop();
  await engine?.stop();
  await registry?.stop();
});

test('push busybox to berth registry serve, pull it back: same image, same digest', async () => {
  const ref = `${registry.host}/rt/busybox:1`;
  ok(await engine.berth(['tag', 'busybox', ref]), 'tag');
  const pushed = ok(await engine.berth(['push', ref]), 'push');
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
  assert.ok(digest, `push printed no digest: ${pushed.stdout}`);
  const id = await inspect(engine, ref, '{{.Id}}');
  // The registry serves the manifest under the digest the push reported.
  const head = await call(registry, 'HEAD', `/v2/rt/busybox/manifests/1`);
  assert.equal(head.headers['docker-content-digest'], digest);
  ok(await engine.berth(['rmi', ref]), 'rmi');
  ok(await engine.berth(['pull', ref]), 'pull');
  assert.equal(await inspect(engine, ref, '{{.Id}}'), id);
  assert.match(await inspect(engine, ref, '{{json .RepoDigests}}'), new RegExp(digest));
});

test('a three-layer image goes to another berthd through the registry, by tag and digest', async () => {
  const base = `${registry.host}/rt/layers`;
  ok(
    await engine.berth([
      'run',
      '--name',
      'rt-one',
      'busybox',
      'sh',
      '-c',
      'echo one > /one; mkdir -p /d && echo two > /d/two',
    ]),
    'run one',
  );
  ok(await engine.berth(['commit', 'rt-one', `${base}:step1`]), 'commit one');
  ok(
    await engine.berth([
      'run',
      '--name',
      'rt-two',
      `${base}:step1`,
      'sh',
      '-c',
      'rm /one; echo 3 > /three',
    ]),
    'run two',
  );
  ok(await engine.berth(['commit', 'rt-two', `${base}:2`]), 'commit two');
  const layers = await inspect(engine, `${base}:2`, '{{json .RootFS.Layers}}');
  assert.equal((JSON.parse(layers) as string[]).length, 3);
  const pushed = ok(await engine.berth(['push', `${base}:2`]), 'push');
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1] ?? '';
  assert.notEqual(digest, '');

  ok(await other.berth(['pull', `${base}:2`]), 'pull by tag');
  assert.equal(await inspect(other, `${base}:2`, '{{json .RootFS.Layers}}'), layers);
  const seen = ok(
    await other.berth(['run', '--rm', `${base}:2`, 'sh', '-c', 'ls /one 2>&1; cat /d/two /three']),
    'run on the other engine',
  );
  assert.match(seen.stdout, /No such file or directory\ntwo\n3\n$/);
  ok(await other.berth(['pull', `${base}@${digest}`]), 'pull by digest');
  assert.match(await inspect(other, `${base}:2`, '{{json .RepoDigests}}'), new RegExp(digest));
});

test('a build whose FROM image is only in the registry pulls it, as the classic builder', async () => {
  const ref = `${registry.host}/rt/busybox:1`;
  const r = ok(
    await other.berth(['build', '-t', 'rt-built:1', '-'], {
      input: `FROM ${ref}\nRUN echo built > /built\n`,
    }),
    'build',
  );
  assert.match(r.stdout + r.stderr, /Pull complete|Download complete|Downloaded newer image/);
  const seen = ok(await other.berth(['run', '--rm', 'rt-built:1', 'cat', '/built']), 'run');
  assert.equal(seen.stdout, 'built\n');
});

test('a build on a parent pulled with gzip layers pushes a manifest whose media types fit the blobs', async () => {
  // skopeo compresses the layers it copies, as a public registry serves them.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-rt-gz-'));
  try {
    // A layer of its own over busybox's: the other engine has busybox's already (stored as it
    // first came), but not this one.
    ok(
      await engine.berth(['run', '--name', 'rt-gz', 'busybox', 'sh', '-c', 'echo gz > /gz']),
      'run',
    );
    ok(await engine.berth(['commit', 'rt-gz', 'rt-gz:1']), 'commit');
    const archive = path.join(dir, 'gz.tar');
    ok(await engine.berth(['save', '-o', archive, 'rt-gz:1']), 'save');
    ok(
      await runCommand(
        'skopeo',
        [
          '--insecure-policy',
          'copy',
          '--dest-tls-verify=false',
          `docker-archive:${archive}`,
          `docker://${registry.host}/rt/gz:1`,
        ],
        {},
      ),
      'skopeo copy',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  ok(
    await other.berth(['build', '-t', `${registry.host}/rt/gz-built:1`, '-'], {
      input: `FROM ${registry.host}/rt/gz:1\nRUN echo built > /built\n`,
    }),
    'build',
  );
  ok(await other.berth(['push', `${registry.host}/rt/gz-built:1`]), 'push');
  const m = await call(registry, 'GET', '/v2/rt/gz-built/manifests/1', {
    headers: {
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  assert.equal(m.status, 200);
  const layers = (m.json as { layers: { mediaType: string; digest: string }[] }).layers;
  assert.equal(layers.length, 3);
  const kinds: string[] = [];
  for (const l of layers) {
    const blob = await call(registry, 'GET', `/v2/rt/gz-built/blobs/${l.digest}`);
    assert.equal(blob.status, 200);
    const gzip = blob.body[0] === 0x1f && blob.body[1] === 0x8b;
    assert.equal(l.mediaType.endsWith('gzip'), gzip, `${l.digest}: ${l.mediaType}`);
    kinds.push(gzip ? 'gzip' : 'tar');
  }
  // The pulled layer stays as it came; the built one goes uncompressed.
  assert.deepEqual(kinds.slice(1), ['gzip', 'tar']);
});
