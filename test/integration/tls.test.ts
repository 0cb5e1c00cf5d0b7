import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { berthBin, runCommand, startEngine, type Engine } from './harness.js';

// The API over tcp only with TLS client certificates (--tlsverify), as dockerd serves it; the
// unix socket only for root and the `berth` group. Certificates are made here with openssl.

let engine: Engine;
let certs: string;
let port: number;
let tcpHost: string;

async function openssl(args: string[]): Promise<void> {
  const r = await runCommand('openssl', args, {}, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA (`<name>-ca.pem`) and one certificate it signs per entry of `leaves`. */
async function makeCa(name: string, leaves: { name: string; ext: string }[]): Promise<void> {
  const f = (n: string): string => path.join(certs, n);
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2']
      .concat(['-subj', `/CN=${name} test CA`, '-keyout', f(`${name}-ca-key.pem`)])
      .concat(['-out', f(`${name}-ca.pem`)]),
  );
  for (const leaf of leaves) {
    await fs.writeFile(f(`${leaf.name}.ext`), leaf.ext);
    await openssl(
      ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${leaf.name}`].concat([
        '-keyout',
        f(`${leaf.name}-key.pem`),
        '-out',
        f(`${leaf.name}.csr`),
      ]),
    );
    await openssl(
      ['x509', '-req', '-in', f(`${leaf.name}.csr`), '-days', '2']
        .concat(['-CA', f(`${name}-ca.pem`), '-CAkey', f(`${name}-ca-key.pem`)])
        .concat(['-CAcreateserial', '-out', f(`${leaf.name}-cert.pem`)])
        .concat(['-extfile', f(`${leaf.name}.ext`)]),
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

before(async () => {
  certs = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-tls-it-'));
  await makeCa('good', [
    {
      name: 'server',
      ext: 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    },
    { name: 'client', ext: 'extendedKeyUsage=clientAuth\n' },
  ]);
  await makeCa('other', [{ name: 'stranger', ext: 'extendedKeyUsage=clientAuth\n' }]);
  // The docker CLI's file names, for DOCKER_CERT_PATH.
  const dir = path.join(certs, 'docker');
  await fs.mkdir(dir);
  await fs.copyFile(path.join(certs, 'good-ca.pem'), path.join(dir, 'ca.pem'));
  await fs.copyFile(path.join(certs, 'client-cert.pem'), path.join(dir, 'cert.pem'));
  await fs.copyFile(path.join(certs, 'client-key.pem'), path.join(dir, 'key.pem'));
  port = await freePort();
  tcpHost = `tcp://127.0.0.1:${port}`;
  engine = await startEngine({
    daemonArgs: ['-H', tcpHost, '--tlsverify']
      .concat(['--tlscacert', path.join(certs, 'good-ca.pem')])
      .concat(['--tlscert', path.join(certs, 'server-cert.pem')])
      .concat(['--tlskey', path.join(certs, 'server-key.pem')]),
  });
});

after(async () => {
  await engine?.stop();
  if (certs) await fs.rm(certs, { recursive: true, force: true });
});

const noEnv = { BERTH_HOST: '', DOCKER_HOST: '', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' };

function client(
  file: 'berth' | 'docker',
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = path.join(certs, 'home');
  const all = { ...noEnv, HOME: home, ...env };
  return file === 'berth'
    ? runCommand(process.execPath, [berthBin, ...args], all)
    : runCommand('docker', args, all);
}

function withCert(cert: string, ca = 'good-ca'): string[] {
  return ['--tlsverify', '--tlscacert', path.join(certs, `${ca}.pem`)]
    .concat(['--tlscert', path.join(certs, `${cert}-cert.pem`)])
    .concat(['--tlskey', path.join(certs, `${cert}-key.pem`), '-H', tcpHost]);
}

test('berth and docker reach the daemon over tcp with a client certificate from the CA', async () => {
  for (const file of ['berth', 'docker'] as const) {
    const r = await client(file, [...withCert('client'), 'version', '--format', '{{.Server.Os}}']);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'linux');
  }
  // A whole run over the TLS connection, attach stream included.
  const run = await client('berth', [
    ...withCert('client'),
    'run',
    '--rm',
    'busybox',
    'echo',
    'hi',
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hi\n');
  const d = await client('docker', [
    ...withCert('client'),
    'run',
    '--rm',
    'busybox',
    'echo',
    'hej',
  ]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout, 'hej\n');
});

test('DOCKER_TLS_VERIFY and DOCKER_CERT_PATH select TLS and the files, as for the docker CLI', async () => {
  const env = {
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: path.join(certs, 'docker'),
    DOCKER_HOST: tcpHost,
  };
  for (const file of ['berth', 'docker'] as const) {
    const r = await client(file, ['version', '--format', '{{.Server.Os}}'], env);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'linux');
  }
});

test('without a client certificate, or with one from another CA, the daemon refuses', async () => {
  const noCert = ['--tlsverify', '--tlscacert', path.join(certs, 'good-ca.pem'), '-H', tcpHost];
  for (const file of ['berth', 'docker'] as const) {
    const a = await client(file, [...noCert, 'version', '--format', '{{.Server.Os}}']);
    assert.notEqual(a.code, 0, `${file} without a certificate: ${a.stdout}`);
    assert.doesNotMatch(a.stdout, /linux/);
    const b = await client(file, [
      ...withCert('stranger'),
      'version',
      '--format',
      '{{.Server.Os}}',
    ]);
    assert.notEqual(b.code, 0, `${file} with another CA's certificate: ${b.stdout}`);
    assert.doesNotMatch(b.stdout, /linux/);
  }
  // Plain HTTP on the TLS port gets no API answer, but the words dockerd answers it with.
  const plain = await client('berth', ['-H', tcpHost, 'version', '--format', '{{.Server.Os}}']);
  assert.notEqual(plain.code, 0);
  assert.doesNotMatch(plain.stdout, /linux/);
  const raw = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.0 400 Bad Request\r\n/);
  assert.match(raw, /Client sent an HTTP request to an HTTPS server\./);
  const dockerPlain = await client('docker', [
    '-H',
    tcpHost,
    'version',
    '--format',
    '{{.Server.Os}}',
  ]);
  assert.notEqual(dockerPlain.code, 0);
  assert.match(dockerPlain.stderr, /Client sent an HTTP request to an HTTPS server/);
  // The daemon still serves good clients afterwards.
  const ok = await client('berth', [...withCert('client'), 'ps', '-q']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a tcp host without --tlsverify is refused at start with a clear error', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-tls-refuse-'));
  try {
    const free = await freePort();
    for (const extra of [[], ['--tls']]) {
      const r = await runCommand(
        process.execPath,
        [berthBin, 'daemon', '--data-root', path.join(root, 'data')]
          .concat(['--exec-root', path.join(root, 'exec'), '-H', `tcp://127.0.0.1:${free}`])
          .concat(extra),
        noEnv,
        { timeoutMs: 60_000 },
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /tcp host needs TLS client certificates.*--tlsverify/);
      // Nothing was started: the port is still free.
      const probe = net.connect(free, '127.0.0.1');
      const refused = await new Promise<boolean>((resolve) => {
        probe.once('connect', () => resolve(false));
        probe.once('error', () => resolve(true));
      });
      probe.destroy();
      assert.ok(refused, 'the port must not be listening');
    }
    await assert.rejects(fs.stat(path.join(root, 'data', 'engine-id')));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('the unix socket is 0660: a uid outside root and the berth group gets EACCES', async () => {
  const st = await fs.stat(engine.socket);
  assert.equal(st.mode & 0o777, 0o660);
  assert.ok(st.isSocket());
  const script =
    `const s=require('net').connect(${JSON.stringify(engine.socket)});` +
    `s.on('connect',()=>{console.log('connected');s.destroy()});` +
    `s.on('error',e=>{console.log(e.code);process.exitCode=3})`;
  const r = await runCommand(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script],
    {},
  );
  assert.equal(r.stdout.trim(), 'EACCES', r.stderr);
  assert.equal(r.code, 3);
  // The docker CLI as that user says permission denied.
  const d = await runCommand(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'docker', '-H', engine.host, 'ps'],
    { HOME: '/tmp', DOCKER_CONFIG: path.join(certs, 'nobody-docker') },
  );
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /permission denied/);
  // Root still gets in.
  const ok = await engine.berth(['ps', '-q']);
  assert.equal(ok.code, 0, ok.stderr);
});
