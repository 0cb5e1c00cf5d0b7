import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { loadDaemonTls } from './tls.js';

test('missing or unusable TLS files refuse the start with the file named', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-dtls-'));
  try {
    const f = (n: string): string => path.join(dir, n);
    await assert.rejects(
      loadDaemonTls({ caFile: f('ca.pem'), certFile: f('c'), keyFile: f('k'), verify: true }),
      (err: unknown) =>
        err instanceof InvalidArgumentError &&
        err.message === `could not read CA certificate ${f('ca.pem')}: no such file`,
    );
    for (const n of ['ca.pem', 'c', 'k']) await writeFile(f(n), 'not a PEM\n');
    await assert.rejects(
      loadDaemonTls({ caFile: f('ca.pem'), certFile: f('c'), keyFile: f('k'), verify: true }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && err.message.startsWith('could not load the X509'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
