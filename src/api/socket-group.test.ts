import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startApiServer, type Services } from './server.js';

// The socket's group: its members reach the API, others do not. Needs root (chown, setpriv).

const isRoot = process.getuid?.() === 0;

async function groupOf(name: string): Promise<number | undefined> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

function connectAs(uid: number, gid: number, sock: string): Promise<string> {
  const script =
    `const s=require('net').connect(${JSON.stringify(sock)});` +
    `s.on('connect',()=>{console.log('connected');s.destroy()});` +
    `s.on('error',e=>console.log(e.code))`;
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, '-e', script],
      (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
    );
  });
}

test('the socket belongs to its group (0660): a member connects, others get EACCES', async (t) => {
  const gid = await groupOf('nogroup');
  if (!isRoot || gid === undefined) {
    t.skip('needs root and a `nogroup` group to stand for `berth`');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-sockgroup-'));
  await chmod(dir, 0o711);
  const sock = join(dir, 'api.sock');
  const server = await startApiServer({
    hosts: [`unix://${sock}`],
    services: {} as unknown as Services,
    socketGroup: 'nogroup',
  });
  try {
    const st = await stat(sock);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, gid);
    assert.equal(await connectAs(65534, gid, sock), 'connected');
    assert.equal(await connectAs(65534, 65533, sock), 'EACCES');
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
