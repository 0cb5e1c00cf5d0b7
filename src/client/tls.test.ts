import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { clientTls, TlsConfigError } from './tls.js';

test('TLS is off unless --tls, --tlsverify or DOCKER_TLS_VERIFY', () => {
  assert.equal(clientTls({}, { HOME: '/nonexistent' }), undefined);
  assert.equal(clientTls({}, { DOCKER_TLS_VERIFY: '' }), undefined);
  assert.deepEqual(clientTls({ tls: true }, { HOME: '/nonexistent' }), { verify: false });
});

test('the default files come from DOCKER_CERT_PATH; absent defaults are left out', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tls-unit-'));
  try {
    writeFileSync(path.join(dir, 'ca.pem'), 'CA');
    const onlyCa = clientTls({}, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
    assert.deepEqual(onlyCa, { verify: true, ca: Buffer.from('CA') });
    // Without verification the CA is not used, as the docker CLI does.
    assert.deepEqual(clientTls({ tls: true }, { DOCKER_CERT_PATH: dir }), { verify: false });
    writeFileSync(path.join(dir, 'cert.pem'), 'C');
    assert.throws(
      () => clientTls({ tlsverify: true }, { DOCKER_CERT_PATH: dir }),
      TlsConfigError,
      'a certificate without its key',
    );
    writeFileSync(path.join(dir, 'key.pem'), 'K');
    assert.deepEqual(clientTls({ tlsverify: true }, { DOCKER_CERT_PATH: dir }), {
      verify: true,
      ca: Buffer.from('CA'),
      cert: Buffer.from('C'),
      key: Buffer.from('K'),
    });
    assert.throws(
      () => clientTls({ tlsverify: true, tlscacert: path.join(dir, 'nope.pem') }, {}),
      (err: unknown) => err instanceof TlsConfigError && /Could not read CA/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
