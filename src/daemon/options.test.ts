import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { normalizeHost, parseDaemonArgs } from './options.js';

const env = { HOME: '/home/u' };

test('a tcp host is refused without --tlsverify, with or without --tls', () => {
  for (const extra of [[], ['--tls']]) {
    assert.throws(
      () => parseDaemonArgs(['-H', 'tcp://127.0.0.1:2376', ...extra], env),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /needs TLS client certificates/.test(err.message),
    );
  }
});

test('--tlsverify takes the files from the flags, else DOCKER_CERT_PATH, else ~/.docker', () => {
  const a = parseDaemonArgs(
    ['-H', 'tcp://127.0.0.1:9999', '--tlsverify', '--tlscacert', '/c/ca', '--tlskey', '/c/k'],
    env,
  );
  assert.deepEqual(a.tls, {
    caFile: '/c/ca',
    certFile: '/home/u/.docker/cert.pem',
    keyFile: '/c/k',
    verify: true,
  });
  assert.deepEqual(a.hosts, ['tcp://127.0.0.1:9999']);
  const b = parseDaemonArgs(['--tlsverify', '-H', 'tcp://'], { DOCKER_CERT_PATH: '/certs' });
  assert.equal(b.tls?.caFile, '/certs/ca.pem');
  assert.deepEqual(b.hosts, ['tcp://0.0.0.0:2376']);
  assert.equal(parseDaemonArgs([], env).tls, undefined);
});

test('hosts are normalized as dockerd parses -H', () => {
  assert.equal(normalizeHost('/run/x.sock', false), 'unix:///run/x.sock');
  assert.equal(normalizeHost('tcp://1.2.3.4', false), 'tcp://1.2.3.4:2375');
  assert.equal(normalizeHost('tcp://1.2.3.4', true), 'tcp://1.2.3.4:2376');
  assert.equal(normalizeHost('tcp://[::1]:5', true), 'tcp://[::1]:5');
  for (const bad of ['udp://x', 'tcp://a:b', 'tcp://a:70000', 'unix://']) {
    assert.throws(() => normalizeHost(bad, true), InvalidArgumentError, bad);
  }
});

test('--userns-remap is kept as given; empty is refused', () => {
  assert.equal(parseDaemonArgs(['--userns-remap', 'default'], env).usernsRemap, 'default');
  assert.equal(parseDaemonArgs([], env).usernsRemap, undefined);
  assert.throws(() => parseDaemonArgs(['--userns-remap', ''], env), InvalidArgumentError);
});
